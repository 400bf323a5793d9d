//! Hardening: what stops root in a container (chapter 08).
//!
//! Root inside a container is still uid 0 to the kernel. What keeps it from
//! owning the host is a set of restrictions applied to the container's init
//! just before it runs the command, each a separate kernel mechanism:
//!
//! - [`caps`]: the capability sets (Docker's 14 instead of all 41);
//! - [`nnp`]: no_new_privs, so execve can never grant more;
//! - [`seccomp`]: a syscall filter (mount, reboot, module loading … fail);
//! - [`rlimits`]: resource limits from the spec;
//! - [`dev`]: a minimal /dev of our own instead of the host's;
//! - [`paths`]: masked and read-only parts of /proc and /sys;
//! - [`devices`]: the cgroup's device allow-list (v1 files, v2 BPF).
//!
//! In the container's init, after the rootfs is built, the order is:
//! [`caps::drop_bounding`], `PR_SET_KEEPCAPS` and the uid/gid change,
//! [`caps::set_sets`], [`rlimits::apply`], [`nnp::no_new_privs`], and
//! [`seccomp::install`] last before execve ([`seccomp::compile`] runs once
//! in the parent, before clone) — or first, when the spec turns
//! no_new_privs off: then attaching a filter needs CAP_SYS_ADMIN, which
//! only the start of the list still holds. [`dev::populate`] runs before pivot_root, once the spec's mounts put a tmpfs on /dev;
//! [`paths::mask`] and [`paths::readonly`] once /proc and /sys are mounted.
//!
//! The functions here take plain structs or oci-spec types and make their
//! kernel calls through [`crate::sys`], one journaled step each.

pub mod caps;
pub mod dev;
pub mod devices;
pub mod nnp;
pub mod paths;
pub mod rlimits;
pub mod seccomp;
