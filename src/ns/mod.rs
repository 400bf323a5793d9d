//! Namespaces: cloning a process into new ones (chapter 02) and joining the
//! ones of a running process (chapter 03, the mechanism of `docker exec`).

pub mod idmap;
pub mod run;
pub mod setns;

use nix::sched::CloneFlags;

/// Which new namespaces the container gets. With no flag given: all but
/// user (as Docker does).
#[derive(Debug, Clone, Default)]
pub struct Namespaces {
    /// New pid namespace: the command becomes PID 1.
    pub pid: bool,
    /// New UTS namespace: a hostname of its own.
    pub uts: bool,
    /// New IPC namespace: its own SysV IPC and POSIX message queues.
    pub ipc: bool,
    /// New network namespace: only a loopback device, down.
    pub net: bool,
    /// New mount namespace: mounts of its own (needed for pivot_root).
    pub mount: bool,
    /// New user namespace: root inside maps to an unprivileged uid outside.
    pub user: bool,
    /// New cgroup namespace: /proc/self/cgroup shows its cgroup as /.
    pub cgroup: bool,
    /// From inside, once the root is set up, try chapter 01's chroot escape
    /// and report where it lands.
    pub escape_demo: bool,
}

impl Namespaces {
    /// The flags as chosen, or the default set when none was chosen.
    pub fn effective(&self) -> Namespaces {
        if self.chosen() {
            return self.clone();
        }
        Namespaces {
            pid: true,
            uts: true,
            ipc: true,
            net: true,
            mount: true,
            user: false,
            cgroup: true,
            escape_demo: self.escape_demo,
        }
    }

    /// Whether any namespace was chosen on the command line.
    pub fn chosen(&self) -> bool {
        self.pid || self.uts || self.ipc || self.net || self.mount || self.user || self.cgroup
    }

    pub fn clone_flags(&self) -> CloneFlags {
        let e = self.effective();
        [
            (e.mount, CloneFlags::CLONE_NEWNS),
            (e.uts, CloneFlags::CLONE_NEWUTS),
            (e.ipc, CloneFlags::CLONE_NEWIPC),
            (e.user, CloneFlags::CLONE_NEWUSER),
            (e.pid, CloneFlags::CLONE_NEWPID),
            (e.net, CloneFlags::CLONE_NEWNET),
            (e.cgroup, CloneFlags::CLONE_NEWCGROUP),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .fold(CloneFlags::empty(), |acc, (_, f)| acc | f)
    }

    /// Refuse combinations that cannot work, before anything is created.
    pub fn check(&self, hostname: Option<&str>) -> anyhow::Result<()> {
        let e = self.effective();
        if e.pid && !e.mount {
            anyhow::bail!("--pid needs --mount as well: a new pid namespace needs its own /proc, and mounting one without a mount namespace would cover the host's");
        }
        if hostname.is_some() && !e.uts {
            anyhow::bail!(
                "--hostname needs a UTS namespace (--uts): otherwise it would rename the host"
            );
        }
        if let Some(h) = hostname {
            if h.is_empty() || h.len() > 64 {
                anyhow::bail!("--hostname must be 1 to 64 bytes long, got {}", h.len());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_flag_means_all_but_user() {
        let f = Namespaces::default().clone_flags();
        assert!(f.contains(
            CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET
        ));
        assert!(!f.contains(CloneFlags::CLONE_NEWUSER));
    }

    #[test]
    fn chosen_flags_are_exactly_those() {
        let ns = Namespaces {
            uts: true,
            ..Default::default()
        };
        assert_eq!(ns.clone_flags(), CloneFlags::CLONE_NEWUTS);
    }

    #[test]
    fn impossible_combinations_are_refused() {
        let ns = Namespaces {
            pid: true,
            ..Default::default()
        };
        assert!(ns.check(None).unwrap_err().to_string().contains("--mount"));
        let ns = Namespaces {
            mount: true,
            ..Default::default()
        };
        assert!(ns.check(Some("box")).is_err());
        assert!(Namespaces::default().check(Some(&"x".repeat(65))).is_err());
    }
}
