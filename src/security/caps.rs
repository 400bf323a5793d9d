//! Capabilities: root's power, cut into 41 pieces, most of them withheld.
//!
//! Since Linux 2.2 the kernel does not ask "is this uid 0?" but "does this
//! thread hold CAP_X?". Each thread has five sets:
//!
//! - *bounding*: the ceiling. A capability dropped from it can never be
//!   regained by this process or anything it execs (`PR_CAPBSET_DROP`).
//! - *permitted*: what the thread may turn on; *effective*: what is on now,
//!   the set the kernel actually checks.
//! - *inheritable* and *ambient*: what survives an execve of a program that
//!   has no file capabilities of its own. Docker (since 20.10.14, after
//!   CVE-2022-24769) leaves both empty, and so do we.
//!
//! Docker gives a container 14 capabilities. Missing among them:
//! CAP_SYS_ADMIN (mount, most namespace work), CAP_SYS_MODULE (loading
//! kernel modules), CAP_SYS_BOOT (reboot), CAP_SYS_PTRACE, CAP_SYS_TIME,
//! CAP_NET_ADMIN, CAP_SYS_RAWIO, …
//!
//! ## Order with setuid (what the caller must do)
//!
//! A setuid from uid 0 to another uid makes the kernel clear the permitted,
//! effective and ambient sets, unless `PR_SET_KEEPCAPS` is set, which keeps
//! permitted (effective is cleared anyway). And `PR_CAPBSET_DROP` needs
//! CAP_SETPCAP in the effective set. So, as runc does:
//!
//! 1. [`drop_bounding`] while still root (CAP_SETPCAP still effective);
//! 2. `prctl(PR_SET_KEEPCAPS, 1)` ([`crate::sys::set_keepcaps`]);
//! 3. setgroups / setresgid / setresuid;
//! 4. [`set_sets`]: capset raises effective again from the kept
//!    permitted set, then the ambient set is filled. Ambient must come
//!    after the setuid, which would clear it.
//!
//! [`apply`] is 1 then 4, right for a container whose user stays uid 0.

use std::collections::HashSet;

use anyhow::Context;
use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities};

use crate::sys;

/// Docker's default set (moby's `oci/caps/defaults.go`).
pub fn docker_default() -> Vec<Capability> {
    use Capability::*;
    vec![
        Chown,
        DacOverride,
        Fsetid,
        Fowner,
        Mknod,
        NetRaw,
        Setgid,
        Setuid,
        Setfcap,
        Setpcap,
        NetBindService,
        SysChroot,
        Kill,
        AuditWrite,
    ]
}

/// Every capability the kernel ABI defines (CAP_CHOWN … CAP_CHECKPOINT_RESTORE).
pub fn all() -> Vec<Capability> {
    let mut v: Vec<(u8, Capability)> = ::caps::all()
        .into_iter()
        .filter_map(|c| parse(&c.to_string()).ok().map(|o| (c.index(), o)))
        .collect();
    v.sort_by_key(|(i, _)| *i);
    v.into_iter().map(|(_, c)| c).collect()
}

/// `ALL`: every capability still in our own bounding set. A process can
/// never hand on more than that (capset refuses with EPERM), and a sandbox
/// or an engine above us may already have dropped some.
fn all_we_hold() -> anyhow::Result<HashSet<Capability>> {
    let held = ::caps::read(None, ::caps::CapSet::Bounding)
        .context("reading our bounding set (PR_CAPBSET_READ)")?;
    Ok(all()
        .into_iter()
        .filter(|c| held.iter().any(|h| h.index() == index(*c)))
        .collect())
}

/// One capability from a name as a user types it: `NET_ADMIN`,
/// `cap_net_admin`, `CAP_NET_ADMIN`.
pub fn parse(name: &str) -> anyhow::Result<Capability> {
    serde_json::from_value::<Capability>(serde_json::Value::String(name.trim().to_string()))
        .map_err(|_| {
            anyhow::anyhow!(
                "unknown capability {name:?}: expected a name such as NET_ADMIN or CAP_NET_ADMIN, or ALL"
            )
        })
}

fn is_all(name: &str) -> bool {
    name.trim().eq_ignore_ascii_case("ALL")
}

/// The kernel's number for a capability (CAP_CHOWN = 0 … ).
pub fn index(cap: Capability) -> u8 {
    let name = serde_json::to_value(cap)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    name.parse::<::caps::Capability>()
        .map(|c| c.index())
        .expect("oci-spec and caps know the same capabilities")
}

/// The mask of a set: bit N for capability N.
pub fn mask(set: Option<&Capabilities>) -> u64 {
    set.map(|s| s.iter().fold(0u64, |m, c| m | 1u64 << index(*c)))
        .unwrap_or(0)
}

/// Docker's default set changed by `--cap-add` / `--cap-drop`, the way
/// Docker combines them: `--cap-add ALL` starts from every capability,
/// `--cap-drop ALL` from none; then drops are removed and adds are added
/// (an add wins over a drop of the same name). Bounding, effective and
/// permitted get the result; inheritable and ambient stay empty.
pub fn with_changes(add: &[String], drop: &[String]) -> anyhow::Result<LinuxCapabilities> {
    let mut set: HashSet<Capability> = docker_default().into_iter().collect();
    if drop.iter().any(|d| is_all(d)) {
        set.clear();
    }
    if add.iter().any(|a| is_all(a)) {
        set = all_we_hold()?;
    }
    for d in drop.iter().filter(|d| !is_all(d)) {
        set.remove(&parse(d).with_context(|| format!("--cap-drop {d}"))?);
    }
    for a in add.iter().filter(|a| !is_all(a)) {
        set.insert(parse(a).with_context(|| format!("--cap-add {a}"))?);
    }
    Ok(from_set(set))
}

/// The five sets of a container holding exactly `set`.
pub fn from_set(set: HashSet<Capability>) -> LinuxCapabilities {
    let mut caps = LinuxCapabilities::default();
    caps.set_bounding(Some(set.clone()))
        .set_effective(Some(set.clone()))
        .set_permitted(Some(set))
        .set_inheritable(Some(HashSet::new()))
        .set_ambient(Some(HashSet::new()));
    caps
}

/// What this kernel supports (bits up to /proc/sys/kernel/cap_last_cap).
fn supported() -> u64 {
    ::caps::runtime::thread_all_supported()
        .iter()
        .fold(0, |m, c| m | c.bitmask())
}

/// Step 1 (while still root): drop from the bounding set every capability
/// the spec's bounding set does not name. A missing bounding set keeps the
/// current one.
pub fn drop_bounding(c: &LinuxCapabilities) -> anyhow::Result<()> {
    let Some(bounding) = c.bounding() else {
        return Ok(());
    };
    let drop = supported() & !mask(Some(bounding));
    if drop == 0 {
        return Ok(());
    }
    sys::capbset_drop(
        drop,
        "lower the ceiling: no process in the container can ever hold these, whatever it execs",
    )
    .context("dropping capabilities from the bounding set")
}

/// Step 4 (after setuid): set effective, permitted and inheritable, then
/// the ambient set.
pub fn set_sets(c: &LinuxCapabilities) -> anyhow::Result<()> {
    let sup = supported();
    sys::capset(
        mask(c.effective().as_ref()) & sup,
        mask(c.permitted().as_ref()) & sup,
        mask(c.inheritable().as_ref()) & sup,
        "keep only the capabilities the container is given; the kernel checks the effective set on every privileged call",
    )
    .context("setting the capability sets (capset)")?;
    // The kernel raises an ambient capability only if it is both permitted
    // and inheritable (else EPERM). `runc spec` lists ambient capabilities
    // with no inheritable set, and runc skips those it cannot raise; so do
    // we, keeping the ones the kernel accepts.
    let ambient = mask(c.ambient().as_ref())
        & mask(c.permitted().as_ref())
        & mask(c.inheritable().as_ref())
        & sup;
    // An empty ambient set needs no call when there is nothing to clear;
    // clearing it anyway costs one prctl and makes sure.
    sys::ambient_set(
        ambient,
        "the ambient set passes capabilities to a program without file capabilities across execve",
    )
    .context("setting the ambient capability set")
}

/// Both steps, for a container that stays uid 0 (see the module docs for
/// the order around setuid).
pub fn apply(c: &LinuxCapabilities) -> anyhow::Result<()> {
    drop_bounding(c)?;
    set_sets(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_every_spelling() {
        for n in ["NET_ADMIN", "net_admin", "CAP_NET_ADMIN", "cap_Net_Admin"] {
            assert_eq!(parse(n).unwrap(), Capability::NetAdmin, "{n}");
        }
        let e = parse("NET_ADMINN").unwrap_err().to_string();
        assert!(e.contains("unknown capability \"NET_ADMINN\""), "{e}");
    }

    #[test]
    fn docker_default_is_fourteen_with_known_bits() {
        let d = docker_default();
        assert_eq!(d.len(), 14);
        let m = mask(Some(&d.into_iter().collect()));
        // CHOWN 0, DAC_OVERRIDE 1, FOWNER 3, FSETID 4, KILL 5, SETGID 6,
        // SETUID 7, SETPCAP 8, NET_BIND_SERVICE 10, NET_RAW 13,
        // SYS_CHROOT 18, MKNOD 27, AUDIT_WRITE 29, SETFCAP 31.
        assert_eq!(m, 0x00000000a80425fb);
    }

    #[test]
    fn add_and_drop() {
        let c = with_changes(&["net_admin".into()], &["CAP_CHOWN".into()]).unwrap();
        let b = c.bounding().as_ref().unwrap();
        assert!(b.contains(&Capability::NetAdmin));
        assert!(!b.contains(&Capability::Chown));
        assert_eq!(b.len(), 14);
        assert_eq!(c.effective(), c.bounding());
        assert_eq!(c.permitted(), c.bounding());
        assert!(c.inheritable().as_ref().unwrap().is_empty());
        assert!(c.ambient().as_ref().unwrap().is_empty());
    }

    #[test]
    fn all_in_add_and_drop() {
        let none = with_changes(&["KILL".into()], &["all".into()]).unwrap();
        assert_eq!(
            none.bounding().as_ref().unwrap(),
            &[Capability::Kill].into_iter().collect()
        );
        let every = with_changes(&["ALL".into()], &["SYS_ADMIN".into()]).unwrap();
        let b = every.bounding().as_ref().unwrap();
        // ALL is what we hold: a sandbox may have dropped some already.
        let held = all_we_hold().unwrap();
        assert!(
            held.contains(&Capability::SysAdmin),
            "the test needs CAP_SYS_ADMIN in its bounding set"
        );
        assert_eq!(b.len(), held.len() - 1);
        assert!(!b.contains(&Capability::SysAdmin));
        assert!(all().len() >= 41);
    }

    #[test]
    fn unknown_name_is_one_clear_error() {
        let e = format!("{:#}", with_changes(&["BOGUS".into()], &[]).unwrap_err());
        assert!(e.contains("--cap-add BOGUS"), "{e}");
        assert!(e.contains("unknown capability \"BOGUS\""), "{e}");
    }

    #[test]
    fn mask_of_empty_and_missing() {
        assert_eq!(mask(None), 0);
        assert_eq!(mask(Some(&HashSet::new())), 0);
    }
}
