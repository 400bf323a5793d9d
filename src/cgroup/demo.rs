//! Chapter 04's demos: small programs, run with the rootfs's own shell,
//! that run into each limit so its effect can be seen and measured.

use super::limits::{CpuMax, Limits};

/// Which limit to run into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Demo {
    /// A busy loop for 3 s: CFS bandwidth holds it near its CPU quota.
    Cpu,
    /// A fork bomb: forks fail with EAGAIN at the pids limit.
    Forkbomb,
    /// A memory hog (`tail /dev/zero` keeps a line with no end): the OOM killer stops it.
    Oom,
}

impl Demo {
    /// The command that runs into the limit.
    pub fn command(self) -> Vec<String> {
        let script = match self {
            // Spin until a 3 s sleep ends; `kill -0` only asks whether it lives.
            Demo::Cpu => "sleep 3 & while kill -0 $! 2>/dev/null; do :; done",
            // Each f starts two more in the background, for ever. PID 1 then
            // becomes `sleep 3` without forking; when it exits the kernel
            // kills everything else in the pid namespace.
            Demo::Forkbomb => "f() { f | f & }; f 2>/dev/null; exec sleep 3",
            // tail looks for the last newline; /dev/zero never sends one.
            Demo::Oom => "exec tail /dev/zero",
        };
        ["/bin/sh", "-c", script].map(String::from).to_vec()
    }

    /// The limit the demo needs, unless the learner chose one.
    pub fn with_default_limit(self, mut limits: Limits) -> Limits {
        match self {
            Demo::Cpu => {
                limits.cpu.get_or_insert(CpuMax {
                    quota_us: 20_000,
                    period_us: 100_000,
                });
            }
            Demo::Forkbomb => {
                limits.pids.get_or_insert(32);
            }
            Demo::Oom => {
                limits.memory.get_or_insert(32 << 20);
            }
        }
        limits
    }
}
