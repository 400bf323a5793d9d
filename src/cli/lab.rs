//! `wharf lab`: the exercises, in the spirit of rustlings. A lab is a
//! skeleton in which the learner writes a chapter's kernel steps (see
//! labs/README.md); `check` builds the learner's crate and judges the binary
//! from the kernel's side; `hint` (graded, one more each time) and `watch`
//! help along the way.

mod check;
mod gen;
mod judge;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

use gen::{Generated, Region};

#[derive(Debug, Args)]
pub struct LabArgs {
    #[command(subcommand)]
    pub cmd: LabCmd,
}

#[derive(Debug, Subcommand)]
pub enum LabCmd {
    /// Every lab and how far you got.
    List,
    /// Build your lab and judge it from the kernel's side.
    Check(CheckArgs),
    /// One more hint for your lab each time you ask.
    Hint(HintArgs),
    /// Check again every time you save.
    Watch(CheckArgs),
    /// Regenerate labs/ from chapters/ (maintainers; `--check` for CI).
    Gen(GenArgs),
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// The lab: its number (2), or its name (02-namespaces).
    pub lab: String,
    /// Judge this binary instead of building the lab (e.g. the chapter's
    /// own binary, to see what passing looks like).
    #[arg(long, value_name = "PATH")]
    pub bin: Option<PathBuf>,
    /// The lab crate to build (default: labs/NN-topic in the repo).
    #[arg(long, value_name = "DIR", conflicts_with = "bin")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct HintArgs {
    /// The lab: its number (2), or its name (02-namespaces).
    pub lab: String,
    /// The lab crate you work in (default: labs/NN-topic in the repo); it
    /// remembers how many hints you have seen.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Forget the hints seen so far and start again from the first.
    #[arg(long)]
    pub reset: bool,
}

#[derive(Debug, Args)]
pub struct GenArgs {
    /// Change nothing; fail if a lab in labs/ differs from what its chapter generates.
    #[arg(long)]
    pub check: bool,
    /// Write the labs here instead of labs/ (e.g. a fresh copy for tests).
    #[arg(long, value_name = "DIR", conflicts_with = "check")]
    pub out: Option<PathBuf>,
}

pub fn run(args: LabArgs) -> anyhow::Result<i32> {
    let repo = Repo::find()?;
    match args.cmd {
        LabCmd::List => list(&repo),
        LabCmd::Check(a) => check::run(&repo, &a),
        LabCmd::Hint(a) => hint(&repo, &a),
        LabCmd::Watch(a) => watch(&repo, &a),
        LabCmd::Gen(a) => generate(&repo, &a),
    }
}

/// The wharf checkout the labs live in.
pub struct Repo {
    pub root: PathBuf,
}

impl Repo {
    /// The repo around the current directory, else the one wharf was built
    /// from.
    pub fn find() -> anyhow::Result<Repo> {
        let is_repo = |d: &Path| d.join("labs/README.md").is_file() && d.join("chapters").is_dir();
        let cwd = std::env::current_dir().unwrap_or_default();
        let built_from = Path::new(env!("CARGO_MANIFEST_DIR"));
        let found = cwd.ancestors().chain([built_from]).find(|d| is_repo(d));
        let root = found.map(Path::to_path_buf);
        root.map(|root| Repo { root }).with_context(|| {
            format!(
                "no wharf repository around {}: run `wharf lab` inside your wharf checkout",
                cwd.display()
            )
        })
    }

    /// Chapter dirs (`chapters/NN-topic`), in order.
    pub fn chapters(&self) -> anyhow::Result<Vec<PathBuf>> {
        let dir = self.root.join("chapters");
        let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .and_then(gen::chapter_number)
                    .is_some()
            })
            .filter(|p| p.join("src/main.rs").is_file())
            .collect();
        out.sort();
        Ok(out)
    }

    /// The chapter a learner means by `2`, `02` or `02-namespaces`.
    pub fn chapter(&self, lab: &str) -> anyhow::Result<(u32, PathBuf)> {
        let all = self.chapters()?;
        let wanted = lab.parse::<u32>().ok();
        let found = all.iter().find(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            Some(name) == Some(lab) || (wanted.is_some() && gen::chapter_number(name) == wanted)
        });
        let names: Vec<String> = all
            .iter()
            .filter_map(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        let Some(p) = found else {
            bail!(
                "no lab {lab:?}: the labs are {} (see `wharf lab list`)",
                names.join(", ")
            );
        };
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        Ok((gen::chapter_number(name).unwrap_or(0), p.clone()))
    }

    /// Where the labs live in the repo.
    pub fn labs(&self) -> PathBuf {
        self.root.join("labs")
    }

    /// Generate the lab for `chapter` as it would sit in `out`.
    pub fn generate(&self, chapter: &Path, out: &Path) -> anyhow::Result<Generated> {
        let root_manifest = std::fs::read_to_string(self.root.join("Cargo.toml"))
            .context("reading the root Cargo.toml")?;
        let name = chapter.file_name().context("chapter dir has no name")?;
        let lab_dir = std::path::absolute(out.join(name))?;
        let wharf_dep = gen::relative(&lab_dir, &std::path::absolute(&self.root)?);
        let written = self.labs().join(name);
        if gen::is_written(&written) {
            return gen::written_lab(chapter, &written, &root_manifest, &wharf_dep);
        }
        gen::lab_for(chapter, &root_manifest, &wharf_dep)
    }

    /// The lab crate a learner works in: `dir`, else labs/NN-topic. A
    /// written lab's src/main.rs starts as a copy of its skeleton, made
    /// here the first time (and never overwritten: it is the learner's).
    pub fn work_dir(&self, lab: &str, dir: Option<&Path>) -> anyhow::Result<(u32, PathBuf)> {
        let (num, chapter) = self.chapter(lab)?;
        let name = chapter.file_name().unwrap_or_default();
        let work = dir.map_or_else(|| self.labs().join(name), Path::to_path_buf);
        let main = work.join("src/main.rs");
        let pristine = self.labs().join(name).join("skeleton/main.rs");
        if !main.exists() && pristine.is_file() {
            std::fs::create_dir_all(work.join("src"))?;
            std::fs::copy(&pristine, &main)
                .with_context(|| format!("copying the skeleton to {}", main.display()))?;
            eprintln!("your lab starts here: {}", main.display());
        }
        Ok((num, work))
    }
}

/// Where a lab stands for the learner.
fn progress(repo: &Repo, chapter: &Path) -> anyhow::Result<&'static str> {
    let dir = repo.labs().join(chapter.file_name().unwrap_or_default());
    let Ok(mine) = std::fs::read_to_string(dir.join("src/main.rs")) else {
        return Ok(match gen::is_written(&dir) {
            true => "not started",
            false => "not generated",
        });
    };
    if check::passed_marker(&dir).is_file() {
        return Ok("passed");
    }
    let fresh = repo.generate(chapter, &repo.labs())?;
    Ok(if fresh.main_rs == mine {
        "not started"
    } else {
        "in progress"
    })
}

fn list(repo: &Repo) -> anyhow::Result<i32> {
    println!("{:<4} {:<20} {:<6} STATUS", "LAB", "NAME", "HINTS");
    for ch in repo.chapters()? {
        let name = ch
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let num = gen::chapter_number(&name).unwrap_or(0);
        let todos = repo
            .generate(&ch, &repo.labs())
            .map(|g| hints_of(&g).len().to_string());
        let status = progress(repo, &ch)?;
        println!(
            "{num:<4} {name:<20} {:<6} {status}",
            todos.unwrap_or_else(|_| "-".into())
        );
    }
    println!("\nstart with `wharf lab hint N`, then `sudo wharf lab check N` (or `watch N`).");
    Ok(0)
}

/// The graded hints of a lab, mildest first: a written lab's hints.md
/// (one hint per `## ` heading, its text below it), else the TODO hints of
/// a generated lab.
fn hints_of(g: &Generated) -> Vec<String> {
    let Some((_, text)) = g.extra.iter().find(|(p, _)| p == "hints.md") else {
        return g.regions.iter().map(|r: &Region| r.hint.clone()).collect();
    };
    let mut hints: Vec<String> = Vec::new();
    for line in text.lines() {
        match (line.strip_prefix("## "), hints.last_mut()) {
            (Some(title), _) => hints.push(format!("{title}\n")),
            (None, Some(h)) => h.push_str(&format!("   {}\n", line.trim_start())),
            (None, None) => {}
        }
    }
    hints.iter().map(|h| h.trim_end().to_string()).collect()
}

/// One more hint each time: how many the learner has seen is kept in the
/// lab's work dir (`.hints-shown`), so it is per lab and per learner.
fn hint(repo: &Repo, args: &HintArgs) -> anyhow::Result<i32> {
    let (num, work) = repo.work_dir(&args.lab, args.dir.as_deref())?;
    let (_, chapter) = repo.chapter(&args.lab)?;
    let g = repo.generate(&chapter, &repo.labs())?;
    let hints = hints_of(&g);
    let count = work.join(".hints-shown");
    let seen: usize = match args.reset {
        true => 0,
        false => std::fs::read_to_string(&count)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0),
    };
    let n = (seen + 1).min(hints.len());
    std::fs::write(&count, format!("{n}\n"))
        .with_context(|| format!("writing {}", count.display()))?;
    println!("lab {num:02} ({}): hint {n} of {}", g.dir_name, hints.len());
    for (i, h) in hints.iter().take(n).enumerate() {
        println!("\n{}. {h}", i + 1);
    }
    let readme = repo.labs().join(&g.dir_name).join("README.md");
    if n < hints.len() {
        println!(
            "\n{} more: run `wharf lab hint {num}` again",
            hints.len() - n
        );
    } else if !g.extra.is_empty() {
        let solution = repo.labs().join(&g.dir_name).join("solution/main.rs");
        println!(
            "\nthat was the last hint; the reference solution is {}",
            solution.display()
        );
    }
    let read = match readme.is_file() {
        true => readme.display().to_string(),
        false => format!("book/src/{}.md", g.dir_name),
    };
    println!("read: {read} — then `sudo wharf lab check {num}`");
    Ok(0)
}

/// The newest modification time under `dir/src` and of `dir/Cargo.toml`.
fn newest_mtime(dir: &Path) -> Option<SystemTime> {
    fn walk(p: &Path, best: &mut Option<SystemTime>) {
        let Ok(md) = std::fs::metadata(p) else { return };
        if let Ok(t) = md.modified() {
            *best = (*best).max(Some(t));
        }
        if md.is_dir() {
            for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
                walk(&e.path(), best);
            }
        }
    }
    let mut best = None;
    walk(&dir.join("src"), &mut best);
    walk(&dir.join("Cargo.toml"), &mut best);
    best
}

/// Check, then check again whenever a file of the lab changes (polled twice
/// a second: no watcher to install, works on every filesystem).
fn watch(repo: &Repo, args: &CheckArgs) -> anyhow::Result<i32> {
    let (_, dir) = repo.work_dir(&args.lab, args.dir.as_deref())?;
    let mut seen = None;
    loop {
        let now = newest_mtime(&dir);
        if now != seen {
            seen = now;
            if let Err(e) = check::run(repo, args) {
                eprintln!("wharf lab: {}", crate::cli::lesson::one_line(&e));
            }
            eprintln!(
                "-- watching {} for changes (Ctrl-C to stop) --",
                dir.display()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn generate(repo: &Repo, args: &GenArgs) -> anyhow::Result<i32> {
    let out = args.out.clone().unwrap_or_else(|| repo.labs());
    let mut stale = Vec::new();
    for ch in repo.chapters()? {
        // A chapter still being written may have no solution region yet:
        // say so and go on with the others.
        let g = match repo.generate(&ch, &out) {
            Ok(g) => g,
            Err(e) => {
                eprintln!(
                    "warning: no lab for {}: {}",
                    ch.display(),
                    crate::cli::lesson::one_line(&e)
                );
                continue;
            }
        };
        let dir = out.join(&g.dir_name);
        for (rel, text) in lab_files(&g, out == repo.labs()) {
            let path = dir.join(rel);
            let now = std::fs::read_to_string(&path).ok();
            if now.as_deref() == Some(text) {
                continue;
            }
            if args.check {
                stale.push(format!(
                    "{}: {}",
                    path.display(),
                    first_difference(now.as_deref().unwrap_or(""), text)
                ));
                continue;
            }
            std::fs::create_dir_all(path.parent().unwrap_or(&dir))?;
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            println!("wrote {}", path.display());
        }
    }
    if stale.is_empty() {
        if args.check {
            println!("labs are current with their chapters");
        }
        return Ok(0);
    }
    for s in &stale {
        eprintln!("stale lab: {s}");
    }
    eprintln!("wharf lab gen --check: {} lab file(s) differ from their chapters: run `cargo run --bin wharf -- lab gen` and commit labs/", stale.len());
    Ok(1)
}

/// The files `gen` writes for one lab. In the repo's labs/ a written lab
/// gets only its Cargo.toml (its src/main.rs is the learner's, its other
/// files are the source); elsewhere (`--out`) it is copied whole, with
/// src/main.rs fresh from its skeleton.
fn lab_files(g: &Generated, in_repo: bool) -> Vec<(&str, &String)> {
    let mut files = vec![("Cargo.toml", &g.cargo_toml)];
    if g.extra.is_empty() || !in_repo {
        files.push(("src/main.rs", &g.main_rs));
    }
    if !in_repo {
        files.extend(g.extra.iter().map(|(p, t)| (p.as_str(), t)));
    }
    files
}

/// `line 12: expected `…`, found `…`` — the first line that differs.
fn first_difference(have: &str, want: &str) -> String {
    if have.is_empty() {
        return "missing".into();
    }
    let (mut h, mut w) = (have.lines(), want.lines());
    for n in 1.. {
        match (h.next(), w.next()) {
            (Some(a), Some(b)) if a == b => continue,
            (None, None) => break,
            (a, b) => {
                return format!(
                    "line {n}: expected `{}`, found `{}`",
                    b.unwrap_or("<end>"),
                    a.unwrap_or("<end>")
                )
            }
        }
    }
    "differs only in its last newline".into()
}
