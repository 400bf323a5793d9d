//! Where wharf keeps its state on the host.
//!
//! Everything wharf makes lives under one root, `/var/lib/wharf` unless the
//! environment variable `WHARF_ROOT` names another (tests use their own).

use std::path::PathBuf;

use anyhow::Context;

/// The state root: `$WHARF_ROOT` or `/var/lib/wharf`.
pub fn state_root() -> PathBuf {
    std::env::var_os("WHARF_ROOT")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/lib/wharf"))
}

/// The built-in rootfs that every chapter uses when `--rootfs` is not given.
pub fn builtin_rootfs() -> PathBuf {
    state_root().join("rootfs")
}

/// A short label for things wharf creates on the host (cgroups, veths):
/// `wharf-<hash of the state root>`, so that two state roots never touch
/// each other's objects and `wharf reset` removes exactly its own.
pub fn host_tag() -> String {
    host_tag_for(&state_root())
}

/// The state root `wharf lab check` runs a learner's binary in: below
/// ours, with a host tag of its own, so its cgroups never mix with ours.
pub fn lab_check_root(root: &std::path::Path) -> PathBuf {
    root.join("lab-check")
}

/// The host tag of a given state root (FNV-1a of its path).
pub fn host_tag_for(root: &std::path::Path) -> String {
    let mut h: u32 = 2166136261;
    for b in root.as_os_str().as_encoded_bytes() {
        h = (h ^ *b as u32).wrapping_mul(16777619);
    }
    format!("wharf-{:08x}", h)
}

/// The prefix of network device names wharf makes for `tag`: `wf` and the
/// tag's hash, leaving room for a 5-byte suffix in the kernel's 15 bytes.
pub fn net_prefix(tag: &str) -> String {
    format!("wf{}", tag.trim_start_matches("wharf-"))
}

/// `<state root>/containers`: one directory per container (see
/// [`crate::container::ContainerDir`]).
pub fn containers_dir() -> PathBuf {
    state_root().join("containers")
}

/// Twelve hex digits from the kernel's random pool, like a short Docker
/// id: for containers, anonymous volumes and the demos.
pub fn new_id() -> anyhow::Result<String> {
    use std::io::Read;
    let mut b = [0u8; 6];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .context("reading /dev/urandom for an id")?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_differ_per_root_and_fit_device_names() {
        let a = host_tag_for(std::path::Path::new("/tmp/a"));
        assert_ne!(a, host_tag_for(std::path::Path::new("/tmp/b")));
        assert_eq!(a, host_tag_for(std::path::Path::new("/tmp/a")));
        assert_eq!(net_prefix("wharf-0011aabb"), "wf0011aabb");
        assert!(net_prefix(&a).len() + 5 <= 15);
    }
}
