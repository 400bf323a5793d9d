//! The cgroup's device allow-list: which device nodes the container may
//! open, whatever nodes exist in its /dev.
//!
//! Docker keeps CAP_MKNOD, so root in a container can `mknod /dev/sda b 8 0`.
//! The node is harmless as long as the kernel refuses to open it: on every
//! open of a device node (and every mknod) the kernel asks the device
//! controller of the process's cgroup whether this (type, major:minor,
//! access) is allowed. runc's default list allows the six devices of
//! [`super::dev`], /dev/console (5:1), /dev/ptmx (5:2), the ptys
//! (136:*), and mknod (`m`) of anything — making a node is fine, opening
//! it is not.
//!
//! cgroup v1 has a `devices` controller with files: write `a` to
//! `devices.deny` to deny everything, then one line per rule to
//! `devices.allow` ([`apply_v1`]). cgroup v2 has no such files: the list is
//! a BPF program of type BPF_PROG_TYPE_CGROUP_DEVICE attached to the
//! cgroup (bpf(BPF_PROG_LOAD), then bpf(BPF_PROG_ATTACH) on the cgroup
//! directory's fd). wharf does not build that program yet: this module
//! offers only [`apply_v1`], and a v2 caller must say so rather than run
//! without the list.

use std::path::Path;

use anyhow::Context;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType};

use crate::sys;

fn rule(
    typ: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut b = LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .typ(typ)
        .access(access.to_string());
    if let Some(m) = major {
        b = b.major(m);
    }
    if let Some(m) = minor {
        b = b.minor(m);
    }
    b.build().expect("a complete rule")
}

/// runc's default device rules (after an implicit "deny all").
pub fn default_rules() -> Vec<LinuxDeviceCgroup> {
    use LinuxDeviceType::{B, C};
    let mut v = vec![rule(C, None, None, "m"), rule(B, None, None, "m")];
    for (major, minor) in [
        (1, 3),
        (1, 5),
        (1, 7),
        (1, 8),
        (1, 9),
        (5, 0),
        (5, 1),
        (5, 2),
    ] {
        v.push(rule(C, Some(major), Some(minor), "rwm"));
    }
    v.push(rule(C, Some(136), None, "rwm"));
    v
}

/// One rule as the v1 controller reads it: `c 1:3 rwm`, `b *:* m`, `a`.
pub fn v1_line(r: &LinuxDeviceCgroup) -> String {
    let typ = match r.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A => return "a".into(),
        LinuxDeviceType::B => "b",
        // "u" (unbuffered char) is a char device to the kernel; "p" has no
        // cgroup meaning and is treated as char, as runc does.
        LinuxDeviceType::C | LinuxDeviceType::U | LinuxDeviceType::P => "c",
    };
    let num = |n: Option<i64>| match n {
        Some(n) if n >= 0 => n.to_string(),
        _ => "*".into(),
    };
    let access = r.access().clone().unwrap_or_else(|| "rwm".into());
    format!("{typ} {}:{} {access}", num(r.major()), num(r.minor()))
}

/// cgroup v1: in the devices controller's directory `cgroup_dir` of the
/// container, deny everything, then allow (or deny) each rule.
pub fn apply_v1(cgroup_dir: &Path, rules: &[LinuxDeviceCgroup]) -> anyhow::Result<()> {
    sys::write(
        &cgroup_dir.join("devices.deny"),
        "a",
        "start from nothing: no device may be opened or created unless a rule below allows it",
    )
    .context("denying all devices (devices.deny)")?;
    for r in rules {
        let line = v1_line(r);
        let (file, why) = match r.allow() {
            true => (
                "devices.allow",
                "allow this device (type major:minor access)",
            ),
            false => ("devices.deny", "deny this device"),
        };
        sys::write(&cgroup_dir.join(file), &line, why)
            .with_context(|| format!("writing {line:?} to {file}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rules_as_v1_lines() {
        let lines: Vec<String> = default_rules().iter().map(v1_line).collect();
        assert_eq!(
            lines,
            [
                "c *:* m",
                "b *:* m",
                "c 1:3 rwm",
                "c 1:5 rwm",
                "c 1:7 rwm",
                "c 1:8 rwm",
                "c 1:9 rwm",
                "c 5:0 rwm",
                "c 5:1 rwm",
                "c 5:2 rwm",
                "c 136:* rwm"
            ]
        );
    }
}
