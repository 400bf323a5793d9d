//! Was the container OOM-killed? The memory controller counts its kills:
//! `oom_kill N` in memory.oom_control (v1) or memory.events (v2), read
//! from the container's cgroup before the runtime removes it.

/// Whether the kernel's OOM killer killed anything in container `id`'s cgroup.
pub fn killed(id: &str) -> bool {
    match crate::cgroup::Cgroup::open(id) {
        Ok(Some(cg)) => {
            let kills = cg.stats().memory.map_or(0, |m| m.oom_kills);
            // Only looked at: the runtime's delete removes it.
            cg.persist();
            kills > 0
        }
        _ => false,
    }
}
