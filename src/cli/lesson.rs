//! The flags every chapter binary shares: `--explain`, `--show`,
//! `--show-diff`, and the way a chapter ends (one error line, an exit code).

use clap::Args;

use super::flags::ViewFlag;
use crate::probe::{Snapshot, View};
use crate::sys::journal::{self, Mode};

/// What the learner wants to see while a chapter runs.
#[derive(Debug, Clone, Default, Args)]
pub struct Lesson {
    /// Print every syscall as it is made, decoded, with why it is needed
    /// (`--explain=json` for one JSON object per step).
    #[arg(long, global = true, value_name = "FORMAT", num_args = 0..=1, require_equals = true, default_missing_value = "text")]
    pub explain: Option<Mode>,

    /// After every step, print the kernel's view: any of ns, mounts, cgroup.
    #[arg(long, global = true, value_delimiter = ',', value_name = "VIEWS")]
    pub show: Vec<ViewFlag>,

    /// With --show: print only what changed since the step before.
    #[arg(long, global = true, requires = "show")]
    pub show_diff: bool,
}

impl Lesson {
    /// Switch the journal on as asked and hook the `--show` tables to it.
    pub fn start(&self) {
        journal::init(self.explain.unwrap_or(Mode::Quiet));
        if self.show.is_empty() {
            return;
        }
        let views: Vec<View> = self.show.iter().map(|&v| v.into()).collect();
        let diff = self.show_diff;
        // Seeded before any step, so a child forked inside clone() has a
        // "before" to diff its first step against, too.
        let last = std::sync::Mutex::new(Some(Snapshot::take_before_start(&views)));
        journal::observe(Box::new(move |step| {
            let snap = Snapshot::take_after(step, &views);
            let mut prev = last.lock().unwrap_or_else(|e| e.into_inner());
            // A new child is shown in full: its namespaces are the news.
            let new_child = step.syscall == "clone" && step.errno.is_none();
            let text = match (diff, prev.as_ref()) {
                (true, Some(before)) if !new_child => snap.diff(before),
                _ => snap.render(),
            };
            journal::emit(&text);
            *prev = Some(snap);
        }));
    }
}

/// Run a chapter's body: on error print one line naming the problem and
/// exit non-zero; otherwise exit with the code the body returned.
pub fn finish(name: &str, result: anyhow::Result<i32>) -> ! {
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            journal::emit(&format!("{name}: error: {}\n", one_line(&e)));
            std::process::exit(crate::sys::exit_code_of(&e))
        }
    }
}

pub use crate::sys::{one_line, program_name, ExitCode};

/// Refuse to go on without root, with a line that says how to run.
pub fn require_root(name: &str) -> anyhow::Result<()> {
    if nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    anyhow::bail!("{name} needs root to create namespaces, mounts and cgroups: run it with sudo")
}
