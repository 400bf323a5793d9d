//! Where wharf keeps its state on the host.
//!
//! Everything wharf makes lives under one root, `/var/lib/wharf` unless the
//! environment variable `WHARF_ROOT` names another (tests use their own).

use std::path::PathBuf;

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
    let root = state_root();
    let mut h: u32 = 2166136261;
    for b in root.as_os_str().as_encoded_bytes() {
        h = (h ^ *b as u32).wrapping_mul(16777619);
    }
    format!("wharf-{:08x}", h)
}
