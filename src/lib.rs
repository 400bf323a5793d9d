//! wharf: a workbench that teaches Linux containers by building one.
//!
//! Layers, imports pointing down only:
//! - faces: `src/main.rs`, [`cli`], and the chapter binaries in `chapters/`
//! - runtime: [`container`] turns one OCI runtime spec into a container.
//! - mechanism: [`ns`], [`rootfs`], [`cgroup`], [`union`], [`layer`], [`volume`],
//!   [`security`]
//! - kernel: [`sys`] makes every container-building syscall and journals it;
//!   [`probe`] reads every view the kernel gives of itself.
//! - [`image`]: the image store, import, load/save (runtime, beside [`container`]).
//! - [`registry`]: pull and push against a registry (runtime, beside [`image`]).
//! - [`lifecycle`]: Docker's containers over [`container`]: records, names,
//!   the monitor, logs (runtime).
//! - [`paths`]: where wharf keeps its state.

pub mod build;
pub mod cgroup;
pub mod cli;
pub mod container;
pub mod image;
pub mod layer;
pub mod lifecycle;
pub mod net;
pub mod ns;
pub mod paths;
pub mod probe;
pub mod registry;
pub mod rootfs;
pub mod security;
pub mod sys;
pub mod union;
pub mod volume;
