//! A progress bar for long image work, drawn only when stderr is a
//! terminal: piped or in a test, nothing extra is printed.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use crate::image::Progress;

pub struct Bar(Option<ProgressBar>);

impl Bar {
    pub fn new(what: &str) -> Bar {
        if !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        let bar = ProgressBar::new_spinner();
        let style = ProgressStyle::with_template(
            "{prefix} {msg} {bytes}/{total_bytes} {wide_bar} {bytes_per_sec}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(what.to_string());
        Bar(Some(bar))
    }

    pub fn total(&self, bytes: u64) {
        if let Some(b) = &self.0 {
            b.set_length(bytes);
        }
    }

    pub fn done(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn advance(&self, bytes: u64) {
        if let Some(b) = &self.0 {
            b.inc(bytes);
        }
    }

    fn begin(&self, what: &str, total: Option<u64>) {
        if let Some(b) = &self.0 {
            b.set_message(what.to_string());
            b.set_position(0);
            match total {
                Some(t) => b.set_length(t),
                None => b.unset_length(),
            }
        }
    }
}
