//! no_new_privs: execve can never give this process more than it has.
//!
//! Normally execve of a setuid-root binary (su, passwd, ping on old
//! systems) or of a file with capabilities attached (`setcap`) raises the
//! caller's privileges. `prctl(PR_SET_NO_NEW_PRIVS, 1)` switches that off
//! for this process and every descendant, for good: the bit can be set
//! but never cleared, and it is inherited across fork, clone and execve.
//! A container user who finds a setuid binary inside the image gains
//! nothing from it.
//!
//! It is also the ticket to seccomp: an unprivileged process may install a
//! seccomp filter only with no_new_privs set, so that it cannot run a
//! setuid program under a filter that confuses it (see [`super::seccomp`]).

use anyhow::Context;

use crate::sys;

/// Set no_new_privs on the calling process (`NoNewPrivs: 1` in
/// /proc/self/status afterwards).
pub fn no_new_privs() -> anyhow::Result<()> {
    sys::set_no_new_privs(
        "execve must never grant more privileges (setuid bits, file capabilities) than the container already has",
    )
    .context("setting no_new_privs")
}
