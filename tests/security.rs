//! The hardening mechanisms of src/security, each applied in a forked
//! child and judged from the kernel's side: /proc/self/status, the errno of
//! a denied syscall, the child's mountinfo and the nodes it made.

mod common;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};

use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};

/// Fork; in the child run `f`, which returns a report (or an error); the
/// parent gets the report. The child never returns into the test harness.
fn in_child(f: impl FnOnce() -> anyhow::Result<String>) -> String {
    common::require_root();
    let (r, w) = nix::unistd::pipe().expect("pipe");
    // SAFETY: the child only runs `f` and exits with _exit.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            drop(r);
            let mut out = unsafe { std::fs::File::from_raw_fd(w.as_raw_fd()) };
            std::mem::forget(w);
            let code = match f() {
                Ok(report) => {
                    let _ = out.write_all(report.as_bytes());
                    0
                }
                Err(e) => {
                    let _ = out.write_all(format!("CHILD FAILED: {e:#}").as_bytes());
                    1
                }
            };
            drop(out);
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(w);
            let mut s = String::new();
            std::fs::File::from(r).read_to_string(&mut s).expect("read");
            let st = waitpid(child, None).expect("waitpid");
            assert_eq!(st, WaitStatus::Exited(child, 0), "child: {s}");
            s
        }
    }
}

/// One field of /proc/self/status, as the kernel wrote it.
fn status_field(status: &str, key: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in status:\n{status}"))
        .trim()
        .to_string()
}

fn self_status() -> anyhow::Result<String> {
    Ok(std::fs::read_to_string("/proc/self/status")?)
}

#[test]
fn caps_apply_leaves_exactly_the_given_sets() {
    let c = wharf::security::caps::with_changes(&["NET_ADMIN".into()], &["CHOWN".into()]).unwrap();
    let st = in_child(|| {
        wharf::security::caps::apply(&c)?;
        self_status()
    });
    // Docker's 0xa80425fb, minus CAP_CHOWN (bit 0), plus CAP_NET_ADMIN (bit 12).
    let want = "00000000a80435fa";
    assert_eq!(status_field(&st, "CapEff"), want);
    assert_eq!(status_field(&st, "CapPrm"), want);
    assert_eq!(status_field(&st, "CapBnd"), want);
    assert_eq!(status_field(&st, "CapInh"), "0000000000000000");
    assert_eq!(status_field(&st, "CapAmb"), "0000000000000000");
    // Without apply, a child keeps the test's own (much wider) bounding set.
    let ours = status_field(&self_status().unwrap(), "CapBnd");
    let host = in_child(self_status);
    assert_eq!(status_field(&host, "CapBnd"), ours);
    assert_ne!(ours, want);
}

#[test]
fn caps_dropped_sys_admin_makes_mount_fail() {
    let c = wharf::security::caps::with_changes(&[], &[]).unwrap();
    let r = in_child(|| {
        // A private mount namespace first, so a mount that works touches nothing.
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)?;
        wharf::security::caps::apply(&c)?;
        let e = nix::mount::mount(
            Some("none"),
            "/tmp",
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            None::<&str>,
        );
        Ok(format!("{e:?}"))
    });
    assert_eq!(r, "Err(EPERM)");
}

#[test]
fn nnp_sets_no_new_privs() {
    let before = in_child(self_status);
    assert_eq!(status_field(&before, "NoNewPrivs"), "0");
    let st = in_child(|| {
        wharf::security::nnp::no_new_privs()?;
        self_status()
    });
    assert_eq!(status_field(&st, "NoNewPrivs"), "1");
}
