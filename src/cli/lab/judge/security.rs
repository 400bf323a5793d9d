//! Lab 08's judge: the container's command, seen through /proc from the
//! host, holds Docker's capability sets changed by `--cap-drop`, runs under
//! no_new_privs and a seccomp filter, and finds /proc's masked files empty
//! and /proc/sys read-only.

use std::path::Path;

use super::{judged, verdict, Ctx, Verdict};
use crate::probe::{host, mounts, procs};

/// Docker's 14 capabilities (0xa80425fb) without CAP_NET_RAW (bit 13).
const DOCKER_MINUS_NET_RAW: &str = "00000000a80405fb";

pub fn judge(ctx: &Ctx) -> Vec<Verdict> {
    let args = ["--cap-drop", "NET_RAW", "--", "/bin/sleep", "60"];
    judged(ctx, &args, |pid| {
        let field = |key: &str| {
            procs::status_field(&pid.to_string(), key).unwrap_or_else(|e| format!("({e})"))
        };
        let caps_fix = "b.capabilities(security::caps::with_changes(&args.cap_add, &args.cap_drop)?): Docker's default set, with the flags' changes";
        let bnd = field("CapBnd");
        let (eff, prm) = (field("CapEff"), field("CapPrm"));
        let (inh, amb) = (field("CapInh"), field("CapAmb"));
        let nnp = field("NoNewPrivs");
        let seccomp = field("Seccomp");
        let filter_fix = "b.no_new_privileges(args.no_new_privs).seccomp((args.seccomp == \"default\").then(security::seccomp::docker_default)): the init sets no_new_privs, then attaches the filter last";
        let mut out = vec![
            verdict(
                "bounding set: Docker's 14 but NET_RAW",
                bnd == DOCKER_MINUS_NET_RAW,
                format!("CapBnd: {bnd} (want {DOCKER_MINUS_NET_RAW})"),
                caps_fix,
            ),
            verdict(
                "effective and permitted = bounding",
                eff == DOCKER_MINUS_NET_RAW && prm == DOCKER_MINUS_NET_RAW,
                format!("CapEff: {eff}, CapPrm: {prm}"),
                caps_fix,
            ),
            verdict(
                "no inheritable, no ambient capability",
                inh == "0000000000000000" && amb == "0000000000000000",
                format!("CapInh: {inh}, CapAmb: {amb}"),
                caps_fix,
            ),
            verdict(
                "no_new_privs is set",
                nnp == "1",
                format!("NoNewPrivs: {nnp}"),
                filter_fix,
            ),
            verdict(
                "a seccomp filter is attached",
                seccomp == "2",
                format!("Seccomp: {seccomp} (0 none, 1 strict, 2 filter)"),
                filter_fix,
            ),
        ];
        out.extend(system_paths(pid));
        out
    })
}

/// /proc/timer_list masked (empty for the container, not for the host) and
/// /proc/sys mounted read-only in the container's mount table.
fn system_paths(pid: i32) -> Vec<Verdict> {
    let fix = "keep runc's default masked and read-only paths: do not call b.system_paths(false) unless --systempaths unconfined";
    let me = std::process::id() as i32;
    let host_has =
        host::read_in_root(me, Path::new("/proc/timer_list")).is_ok_and(|t| !t.is_empty());
    let inside = host::read_in_root(pid, Path::new("/proc/timer_list"));
    let (masked, seen) = match &inside {
        Ok(t) => (
            t.is_empty() && host_has,
            format!(
                "/proc/timer_list: {} bytes inside, the host's has {}",
                t.len(),
                if host_has {
                    "content"
                } else {
                    "none (cannot tell)"
                }
            ),
        ),
        Err(e) => (false, format!("/proc/{pid}/root/proc/timer_list: {e}")),
    };
    let rows = mounts::rows(pid).unwrap_or_default();
    let sys = rows.iter().rev().find(|m| m.target == "/proc/sys");
    let ro = sys.is_some_and(|m| m.options.split(',').any(|o| o == "ro"));
    let sys_seen = sys
        .map(|m| format!("/proc/sys mounted {}", m.options))
        .unwrap_or_else(|| "no mount at /proc/sys".into());
    vec![
        verdict("/proc/timer_list is masked", masked, seen, fix),
        verdict("/proc/sys is read-only", ro, sys_seen, fix),
    ]
}
