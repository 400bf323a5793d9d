//! The daemonless runtime's containers, Docker's way: a container is made
//! from an image and run flags, has an id and a name, a record on disk,
//! a monitor that outlives every command, logs, and a life of created →
//! running → exited → removed. Everything below a container — its spec,
//! its root, its namespaces — is built by the layers under this one
//! ([`crate::container`] through `wharf-oci`, [`crate::union`],
//! [`crate::image`]); this module decides *what* to build and keeps the
//! books.
//!
//! On disk, `<state root>/containers/<id>/`:
//!
//! ```text
//! record.json     what it was made from (record.rs)      written by the CLI
//! status.json     how its run went (status.rs)           written by the monitor
//! config.json     its OCI spec: the directory is its bundle
//! init/ upper/ work/ merged/   its root (merged: the overlay, mounted until rm)
//! container.log   json-file logs (logs.rs)
//! attach.sock     the monitor's socket (attach.rs)
//! ```
//!
//! and `<state root>/names/<name>` → id (names.rs), `<state root>/run/<id>/`
//! the OCI runtime's state.

pub mod attach;
pub mod clock;
pub mod commit;
pub mod control;
pub mod copy;
pub mod create;
pub mod diff;
pub mod ids;
pub mod inroot;
pub mod logs;
pub mod monitor;
pub mod names;
pub mod oom;
pub mod record;
pub mod remove;
pub mod restart;
pub mod signal;
pub mod spec;
pub mod stats;
pub mod status;
pub mod top;
pub mod user;
pub mod view;
pub mod volumes;

pub use create::Options;
pub use record::Record;
pub use restart::Restart;

/// The record of the container `query` names (name, id or id prefix).
pub fn find(query: &str) -> anyhow::Result<Record> {
    record::load(&ids::resolve(query)?)
}

/// The merged root of `rec`, checked to be the overlay mount it should be
/// (mounted at create, until rm): an unmounted one is an empty directory,
/// and reading it would report an empty container.
pub fn mounted_root(rec: &Record) -> anyhow::Result<std::path::PathBuf> {
    match crate::probe::mounts::is_mount_root(&rec.merged_dir) {
        Ok(true) => Ok(rec.merged_dir.clone()),
        _ => anyhow::bail!(
            "the root of container {} is not mounted at {}: remove the container with wharf rm",
            rec.name,
            rec.merged_dir.display()
        ),
    }
}
