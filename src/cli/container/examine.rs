//! The commands that look at a container from outside without entering
//! it — `diff`, `export`, `top`, `stats` — and `rename`. Each reads what
//! the kernel keeps: the overlay's upper dir, the merged root, the
//! cgroup's files; the work is in [`crate::lifecycle`].

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use tabled::settings::Style;
use tabled::{Table, Tabled};

use crate::lifecycle::{self, diff, names, stats, top, view};

#[derive(Debug, Args)]
pub struct OneArgs {
    pub container: String,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show running and stopped containers (default: running only).
    #[arg(short, long)]
    pub all: bool,
    /// Print one reading and exit (wharf does not stream yet: required).
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate the container ID.
    #[arg(long)]
    pub no_trunc: bool,
    pub containers: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    pub container: String,
    pub new_name: String,
}

/// `diff`: one line per changed path, `A`/`C`/`D` then the path.
pub fn diff(a: OneArgs) -> anyhow::Result<i32> {
    let rec = lifecycle::find(&a.container)?;
    for c in diff::changes(&rec.upper_dir, &rec.lower_dirs)? {
        println!("{} {}", c.kind.letter(), c.path.display());
    }
    Ok(0)
}

/// `export`: the merged root (what the container sees as `/`) as a tar.
/// The overlay stays mounted from create to rm, so this works for a
/// stopped container too. A failed export leaves no half-written file.
pub fn export(a: ExportArgs) -> anyhow::Result<i32> {
    let root = lifecycle::mounted_root(&lifecycle::find(&a.container)?)?;
    match &a.output {
        Some(path) => {
            if let Err(e) = crate::layer::export_to_file(&root, path) {
                let _ = std::fs::remove_file(path);
                return Err(e);
            }
        }
        None => {
            let stdout = std::io::stdout().lock();
            if std::io::IsTerminal::is_terminal(&stdout) {
                anyhow::bail!(
                    "cowardly refusing to write a tar to a terminal: use -o FILE or redirect"
                );
            }
            crate::layer::export(&root, stdout)?;
            std::io::stdout().flush()?;
        }
    }
    Ok(0)
}

#[derive(Tabled)]
struct TopRow {
    #[tabled(rename = "UID")]
    uid: u32,
    #[tabled(rename = "PID")]
    pid: i32,
    #[tabled(rename = "PPID")]
    ppid: i32,
    #[tabled(rename = "C")]
    c: u64,
    #[tabled(rename = "STIME")]
    stime: String,
    #[tabled(rename = "TTY")]
    tty: String,
    #[tabled(rename = "TIME")]
    time: String,
    #[tabled(rename = "CMD")]
    cmd: String,
}

/// `top`: `ps -ef` of the container's processes (host pids, as Docker shows).
pub fn top(a: OneArgs) -> anyhow::Result<i32> {
    let rec = lifecycle::find(&a.container)?;
    let rows = top::processes(&rec)?.into_iter().map(|p| TopRow {
        uid: p.uid,
        pid: p.pid,
        ppid: p.ppid,
        c: p.cpu_percent,
        stime: p.stime,
        tty: p.tty,
        time: p.time,
        cmd: p.cmd,
    });
    println!("{}", Table::new(rows).with(Style::blank()));
    Ok(0)
}

#[derive(Tabled)]
struct StatsRow {
    #[tabled(rename = "CONTAINER ID")]
    id: String,
    #[tabled(rename = "NAME")]
    name: String,
    #[tabled(rename = "CPU %")]
    cpu: String,
    #[tabled(rename = "MEM USAGE / LIMIT")]
    mem: String,
    #[tabled(rename = "MEM %")]
    mem_percent: String,
    #[tabled(rename = "PIDS")]
    pids: u64,
}

/// `stats --no-stream`: CPU, memory and pids of each container, from its cgroup.
pub fn stats(a: StatsArgs) -> anyhow::Result<i32> {
    if !a.no_stream {
        anyhow::bail!("wharf stats does not stream yet: add --no-stream");
    }
    let recs = if a.containers.is_empty() {
        lifecycle::record::all()?
            .into_iter()
            .filter(|r| a.all || view::of(r).state == view::State::Running)
            .collect()
    } else {
        a.containers
            .iter()
            .map(|n| lifecycle::find(n))
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    let usage = stats::sample(&recs)?;
    let rows = recs.iter().zip(usage).map(|(r, u)| StatsRow {
        id: if a.no_trunc {
            r.id.clone()
        } else {
            r.short_id().to_string()
        },
        name: r.name.clone(),
        cpu: u.cpu_percent.map_or("--".into(), |c| format!("{c:.2}%")),
        mem: format!("{} / {}", bytes(u.memory), bytes(u.memory_limit)),
        mem_percent: format!(
            "{:.2}%",
            u.memory as f64 * 100.0 / u.memory_limit.max(1) as f64
        ),
        pids: u.pids,
    });
    println!("{}", Table::new(rows).with(Style::blank()));
    Ok(0)
}

/// Bytes as Docker's stats prints them: binary units, `1.5MiB`.
fn bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{b}B"),
        _ => format!("{v:.2}{}", UNITS[unit]),
    }
}

/// `rename`: the name table and the record both say the new name.
pub fn rename(a: RenameArgs) -> anyhow::Result<i32> {
    let rec = lifecycle::find(&a.container)?;
    names::rename(&rec, &a.new_name)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn bytes_read_as_dockers() {
        assert_eq!(super::bytes(512), "512B");
        assert_eq!(super::bytes(3 << 19), "1.50MiB");
        assert_eq!(super::bytes(8 << 30), "8.00GiB");
    }
}
