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
//! cgroup: [`program`] writes it, [`apply_v2`] loads it with
//! bpf(BPF_PROG_LOAD) and attaches it with bpf(BPF_PROG_ATTACH) to the
//! cgroup directory's fd, as runc does.

use std::path::Path;

use anyhow::Context;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceCgroupBuilder, LinuxDeviceType};

use crate::sys::{self, BpfInsn};

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

// eBPF opcodes (linux/bpf_common.h, linux/bpf.h).
const LDX_MEM_W: u8 = 0x61; // r_dst = *(u32 *)(r_src + off)
const AND32_K: u8 = 0x54; // w_dst &= imm
const RSH32_K: u8 = 0x74; // w_dst >>= imm
const MOV32_X: u8 = 0xbc; // w_dst = w_src
const MOV64_K: u8 = 0xb7; // r_dst = imm
const JNE_K: u8 = 0x55; // if r_dst != imm goto +off
const JNE_X: u8 = 0x5d; // if r_dst != r_src goto +off
const EXIT: u8 = 0x95;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> BpfInsn {
    BpfInsn {
        code,
        regs: (src << 4) | dst,
        off,
        imm,
    }
}

/// The v2 allow-list as a BPF_PROG_TYPE_CGROUP_DEVICE program. The kernel
/// calls it with `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major;
/// u32 minor; }` in r1 (access_type = access << 16 | type) and opens the
/// device only if it returns 1. Like runc's: the rules are tried in order,
/// the first that matches answers (1 allow, 0 deny); none matching is 0.
pub fn program(rules: &[LinuxDeviceCgroup]) -> anyhow::Result<Vec<BpfInsn>> {
    // r2 = type, r3 = access, r4 = major, r5 = minor
    let mut p = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0),
        insn(AND32_K, 2, 0, 0, 0xffff),
        insn(LDX_MEM_W, 3, 1, 0, 0),
        insn(RSH32_K, 3, 0, 0, 16),
        insn(LDX_MEM_W, 4, 1, 4, 0),
        insn(LDX_MEM_W, 5, 1, 8, 0),
    ];
    for r in rules {
        let mut block: Vec<BpfInsn> = Vec::new();
        // Jumps in the block skip to the next block; offsets patched below.
        let mut jumps: Vec<usize> = Vec::new();
        match r.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => {}
            LinuxDeviceType::B => {
                jumps.push(block.len());
                block.push(insn(JNE_K, 2, 0, 0, 1)); // BPF_DEVCG_DEV_BLOCK
            }
            _ => {
                jumps.push(block.len());
                block.push(insn(JNE_K, 2, 0, 0, 2)); // BPF_DEVCG_DEV_CHAR
            }
        }
        let access = r.access().clone().unwrap_or_else(|| "rwm".into());
        let mut mask = 0i32;
        for c in access.chars() {
            mask |= match c {
                'm' => 1, // BPF_DEVCG_ACC_MKNOD
                'r' => 2, // BPF_DEVCG_ACC_READ
                'w' => 4, // BPF_DEVCG_ACC_WRITE
                other => anyhow::bail!("device rule access {access:?}: unknown letter {other:?}"),
            };
        }
        if mask != 7 {
            // The requested access must lie within the allowed: (r3 & mask) == r3.
            block.push(insn(MOV32_X, 1, 3, 0, 0));
            block.push(insn(AND32_K, 1, 0, 0, mask));
            jumps.push(block.len());
            block.push(insn(JNE_X, 1, 3, 0, 0));
        }
        for (reg, n) in [(4u8, r.major()), (5u8, r.minor())] {
            if let Some(n) = n.filter(|n| *n >= 0) {
                let n = i32::try_from(n).context("device number too large")?;
                jumps.push(block.len());
                block.push(insn(JNE_K, reg, 0, 0, n));
            }
        }
        block.push(insn(MOV64_K, 0, 0, 0, i32::from(r.allow())));
        block.push(insn(EXIT, 0, 0, 0, 0));
        let len = block.len();
        for j in jumps {
            block[j].off = (len - j - 1) as i16;
        }
        p.extend(block);
    }
    p.push(insn(MOV64_K, 0, 0, 0, 0));
    p.push(insn(EXIT, 0, 0, 0, 0));
    Ok(p)
}

/// cgroup v2: load [`program`] for `rules` and attach it to the cgroup
/// directory `cgroup_dir`. Attached programs stay as long as the cgroup.
pub fn apply_v2(cgroup_dir: &Path, rules: &[LinuxDeviceCgroup]) -> anyhow::Result<()> {
    let insns = program(rules)?;
    let prog = sys::bpf_prog_load_cgroup_device(
        &insns,
        "the device allow-list as a program the kernel runs on every open and mknod of a device node",
    )
    .context("loading the device cgroup program (bpf BPF_PROG_LOAD)")?;
    let dir = std::fs::File::open(cgroup_dir)
        .with_context(|| format!("opening {}", cgroup_dir.display()))?;
    let dir: std::os::fd::OwnedFd = dir.into();
    sys::bpf_prog_attach_cgroup_device(
        &dir,
        &cgroup_dir.display().to_string(),
        &prog,
        "attach it to the container's cgroup: its processes may open only the devices the program allows",
    )
    .context("attaching the device cgroup program (bpf BPF_PROG_ATTACH)")
}

/// A rule as Docker's `--device-cgroup-rule` spells it: `c 1:11 rwm`,
/// `b *:* m`, or `a` (every device); always an allow rule.
pub fn parse_rule(text: &str) -> anyhow::Result<LinuxDeviceCgroup> {
    let bad = || {
        anyhow::anyhow!(
            "device rule {text:?}: write TYPE MAJOR:MINOR ACCESS, e.g. `c 1:11 rwm` (TYPE a, b or c; * for any number; ACCESS of r, w, m)"
        )
    };
    let fields: Vec<&str> = text.split_whitespace().collect();
    let typ = match fields.first().copied() {
        Some("a") if fields.len() == 1 => return Ok(rule(LinuxDeviceType::A, None, None, "rwm")),
        Some("b") => LinuxDeviceType::B,
        Some("c") => LinuxDeviceType::C,
        _ => return Err(bad()),
    };
    let [_, numbers, access] = fields[..] else {
        return Err(bad());
    };
    let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
    let num = |n: &str| match n {
        "*" => Ok(None),
        n => n.parse::<i64>().map(Some).map_err(|_| bad()),
    };
    if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
        return Err(bad());
    }
    Ok(rule(typ, num(major)?, num(minor)?, access))
}

/// The rules a container gets, in the order they take effect: the spec's
/// `linux.resources.devices`, an allow rule for each node of
/// `linux.devices`, then runc's defaults. A rule that denies everything
/// (`a`, no numbers) wipes what came before it, as the v1 controller does
/// when `a` is written to `devices.deny`; the list starts from "deny all"
/// anyway, so only what follows the last such rule matters.
pub fn effective(
    spec_rules: &[LinuxDeviceCgroup],
    nodes: &[oci_spec::runtime::LinuxDevice],
) -> Vec<LinuxDeviceCgroup> {
    let node_rules = nodes.iter().filter_map(|d| {
        let typ = match d.typ() {
            LinuxDeviceType::B => LinuxDeviceType::B,
            LinuxDeviceType::C | LinuxDeviceType::U => LinuxDeviceType::C,
            _ => return None,
        };
        Some(rule(typ, Some(d.major()), Some(d.minor()), "rwm"))
    });
    let all: Vec<LinuxDeviceCgroup> = spec_rules
        .iter()
        .cloned()
        .chain(node_rules)
        .chain(default_rules())
        .collect();
    let wipes = |r: &LinuxDeviceCgroup| {
        !r.allow()
            && matches!(r.typ(), None | Some(LinuxDeviceType::A))
            && r.major().is_none()
            && r.minor().is_none()
    };
    let start = all.iter().rposition(wipes).map_or(0, |i| i + 1);
    all[start..].to_vec()
}

/// Apply `rules` (from [`effective`]) to a container's cgroup: through the
/// v1 devices controller's files in `dir`, or, on cgroup v2, as a BPF
/// program attached to `dir`. The program answers with the first rule that
/// matches, so it gets the rules last first: a later rule wins, as it does
/// when the v1 files are written in order.
pub fn apply(dir: &Path, v2: bool, rules: &[LinuxDeviceCgroup]) -> anyhow::Result<()> {
    if v2 {
        let last_first: Vec<LinuxDeviceCgroup> = rules.iter().rev().cloned().collect();
        apply_v2(dir, &last_first)
    } else {
        apply_v1(dir, rules)
    }
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

    #[test]
    fn program_shape() {
        let p = program(&default_rules()).unwrap();
        // Prologue 6, "c *:* m": type, 3 access, ret 2 = 6; 9 rules with
        // type, major, minor and ret = 5 each (rwm needs no access check),
        // "c 136:*": 4; epilogue 2.
        assert_eq!(p.len(), 6 + 6 + 6 + 8 * 5 + 4 + 2);
        // Every jump lands inside the program.
        for (i, ins) in p.iter().enumerate() {
            if ins.code == JNE_K || ins.code == JNE_X {
                assert!(i + 1 + (ins.off as usize) < p.len());
            }
        }
        assert!(program(&[rule(LinuxDeviceType::C, None, None, "x")]).is_err());
    }

    #[test]
    fn docker_s_rule_syntax_parses_and_bad_rules_say_how() {
        let r = parse_rule("c 1:11 r").unwrap();
        assert_eq!(v1_line(&r), "c 1:11 r");
        assert_eq!(v1_line(&parse_rule("b *:* m").unwrap()), "b *:* m");
        assert_eq!(v1_line(&parse_rule("a").unwrap()), "a");
        for bad in ["", "x 1:1 r", "c 1 r", "c 1:1 rx", "c a:1 r", "c 1:1"] {
            let e = parse_rule(bad).unwrap_err().to_string();
            assert!(e.contains("write TYPE MAJOR:MINOR ACCESS"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn a_deny_all_rule_wipes_what_came_before() {
        let deny_all = LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm".to_string())
            .build()
            .unwrap();
        let zero = rule(LinuxDeviceType::C, Some(1), Some(5), "rwm");
        let rules = effective(&[zero, deny_all], &[]);
        let lines: Vec<String> = rules.iter().map(v1_line).collect();
        assert_eq!(lines[0], "c *:* m", "{lines:?}");
        assert_eq!(lines.len(), default_rules().len());
        let node = oci_spec::runtime::LinuxDeviceBuilder::default()
            .path("/dev/fuse")
            .typ(LinuxDeviceType::C)
            .major(10)
            .minor(229)
            .build()
            .unwrap();
        let lines: Vec<String> = effective(&[], &[node]).iter().map(v1_line).collect();
        assert_eq!(lines[0], "c 10:229 rwm");
    }
}
