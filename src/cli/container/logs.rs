//! `wharf logs`: the container's json-file log, back on stdout and
//! stderr as it came out; `--tail N`, `--since`, `-t` timestamps, `-f`
//! to follow until the container ends.

use std::io::Write;
use std::time::Duration;

use clap::Args;

use crate::lifecycle::logs::{self, Line};
use crate::lifecycle::{clock, view};

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output.
    #[arg(short, long)]
    pub follow: bool,
    /// Show timestamps.
    #[arg(short, long)]
    pub timestamps: bool,
    /// Show logs since a timestamp (RFC 3339 or unix seconds).
    #[arg(long)]
    pub since: Option<String>,
    /// Number of lines to show from the end of the logs ("all" for all).
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    pub container: String,
}

fn print(line: &Line, timestamps: bool) -> std::io::Result<()> {
    let text = match timestamps {
        true => format!("{} {}", line.time, line.log),
        false => line.log.clone(),
    };
    match line.stream.as_str() {
        "stderr" => std::io::stderr().write_all(text.as_bytes()),
        _ => {
            let mut out = std::io::stdout();
            out.write_all(text.as_bytes())?;
            out.flush()
        }
    }
}

pub fn logs(a: LogsArgs) -> anyhow::Result<i32> {
    let rec = crate::lifecycle::find(&a.container)?;
    let since = match &a.since {
        Some(s) => Some(clock::parse(s).ok_or_else(|| {
            anyhow::anyhow!(
                "invalid --since {s:?}: give RFC 3339 (2026-01-02T15:04:05Z) or unix seconds"
            )
        })?),
        None => None,
    };
    let tail = match a.tail.as_str() {
        "all" => usize::MAX,
        n => n
            .parse()
            .map_err(|_| anyhow::anyhow!("invalid --tail {n:?}: a number, or all"))?,
    };
    let mut lines: Vec<Line> = logs::read_all(&rec.log_path, rec.log_max_files)
        .into_iter()
        .filter(|l| since.map_or(true, |s| clock::parse(&l.time).unwrap_or(0) >= s))
        .collect();
    let skip = lines.len().saturating_sub(tail);
    for l in lines.drain(skip..) {
        print(&l, a.timestamps)?;
    }
    if !a.follow {
        return Ok(0);
    }
    // Read on from the end of the live file until the container ends.
    let mut at = std::fs::metadata(&rec.log_path).map_or(0, |m| m.len());
    loop {
        let live = view::of(&rec).state.live();
        let (new, next) = logs::read_from(&rec.log_path, at);
        // A rotation makes the file shorter than where we were.
        at = if next < at { 0 } else { next };
        for l in &new {
            print(l, a.timestamps)?;
        }
        if !live && new.is_empty() {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
