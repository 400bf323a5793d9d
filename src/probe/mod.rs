//! The kernel's view of itself, read and never changed: namespaces, mounts,
//! cgroups. This is the ONLY module that reads /proc and /sys for that.

pub mod ns;
pub mod table;

use crate::sys::journal::Step;

/// Which table to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum View {
    Ns,
    Mounts,
    Cgroup,
}

/// The kernel's view of one process at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {}

impl Snapshot {
    /// The view right after `step`: of the new child for a clone, otherwise
    /// of the process that made the step.
    pub fn take_after(_step: &Step, _views: &[View]) -> Snapshot {
        Snapshot {}
    }

    pub fn render(&self) -> String {
        String::new()
    }

    pub fn diff(&self, _before: &Snapshot) -> String {
        String::new()
    }
}

pub mod cgroup;
pub mod host;
