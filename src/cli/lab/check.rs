//! `wharf lab check N`: build the learner's lab crate, run the binary the
//! way the chapter is run, and let the chapter's judge look at it from the
//! kernel's side. The verdict lists every check with what to do.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use owo_colors::{OwoColorize, Stream};

use super::judge::{self, Ctx, Verdict};
use super::{CheckArgs, Repo};
use crate::cli::lesson;

/// The file that records a passed lab (ignored by git).
pub fn passed_marker(lab_dir: &Path) -> PathBuf {
    lab_dir.join(".passed")
}

pub fn run(repo: &Repo, args: &CheckArgs) -> anyhow::Result<i32> {
    let (num, chapter) = repo.chapter(&args.lab)?;
    lesson::require_root("wharf lab check")?;
    let dir_name = chapter
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let lab_dir = match args.bin {
        Some(_) => repo.labs().join(&dir_name),
        None => repo.work_dir(&args.lab, args.dir.as_deref())?.1,
    };
    let bin = match &args.bin {
        Some(b) if b.is_file() => b.clone(),
        Some(b) => bail!(
            "{} is not a file: give --bin the path of a built binary",
            b.display()
        ),
        None => match build(repo, &lab_dir, &dir_name)? {
            Some(b) => b,
            None => return Ok(1),
        },
    };
    let ctx = Ctx::new(bin)?;
    // Ctrl-C ends the judging, not us: the binary and what it made are
    // cleaned up below before we exit.
    crate::sys::catch_stop_signals();
    let verdicts = judge::judge(num, &ctx);
    ctx.clean_up();
    if crate::sys::stop_requested() {
        bail!("interrupted: the check stopped, and what it had started is cleaned up");
    }
    let verdicts = verdicts?;
    print_verdicts(num, &dir_name, &verdicts);
    let passed = verdicts.iter().all(|v| v.pass);
    if passed && args.bin.is_none() {
        let _ = std::fs::write(passed_marker(&lab_dir), "passed\n");
    } else if !passed {
        let _ = std::fs::remove_file(passed_marker(&lab_dir));
    }
    Ok(if passed { 0 } else { 1 })
}

/// Build the lab crate with cargo in its own target dir; `None` when it
/// does not compile (cargo has shown the errors).
fn build(repo: &Repo, lab_dir: &Path, dir_name: &str) -> anyhow::Result<Option<PathBuf>> {
    let manifest = lab_dir.join("Cargo.toml");
    if !manifest.is_file() {
        bail!(
            "{} does not exist: generate the labs with `wharf lab gen`",
            manifest.display()
        );
    }
    // The repo's lock file pins the same versions the chapters were built
    // with, so the lab builds offline from cargo's cache.
    let lock = lab_dir.join("Cargo.lock");
    if !lock.exists() {
        std::fs::copy(repo.root.join("Cargo.lock"), &lock)
            .context("copying Cargo.lock into the lab")?;
    }
    let target = repo.root.join("target/labs");
    eprintln!("building {} ...", lab_dir.display());
    let status = Command::new(cargo())
        .args(["build", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target)
        .status()
        .context("running cargo (is Rust installed? see `wharf doctor`)")?;
    if !status.success() {
        eprintln!("your lab does not compile: fix the errors above, then check again");
        return Ok(None);
    }
    Ok(Some(target.join("debug").join(format!("lab{dir_name}"))))
}

/// cargo, also under sudo, whose PATH usually lacks ~/.cargo/bin.
fn cargo() -> PathBuf {
    if let Some(c) = std::env::var_os("CARGO") {
        return c.into();
    }
    let home = std::env::var_os("SUDO_USER")
        .map(|u| PathBuf::from("/home").join(u))
        .or_else(|| std::env::var_os("HOME").map(PathBuf::from));
    match home.map(|h| h.join(".cargo/bin/cargo")) {
        Some(c) if c.is_file() && crate::cli::doctor::find_on_path("cargo").is_none() => c,
        _ => PathBuf::from("cargo"),
    }
}

fn print_verdicts(num: u32, name: &str, verdicts: &[Verdict]) {
    println!("lab {num:02} ({name}):");
    for v in verdicts {
        let mark = if v.pass { "ok  " } else { "FAIL" };
        let mark = if v.pass {
            mark.if_supports_color(Stream::Stdout, |t| t.green())
                .to_string()
        } else {
            mark.if_supports_color(Stream::Stdout, |t| t.red())
                .to_string()
        };
        println!("  {mark} {:<44} {}", v.check, v.seen);
        if !v.pass {
            println!("       -> {}", v.fix);
        }
    }
    let ok = verdicts.iter().filter(|v| v.pass).count();
    if ok == verdicts.len() {
        println!(
            "passed {ok}/{} — on to the next lab (`wharf lab list`)",
            verdicts.len()
        );
    } else {
        println!(
            "passed {ok}/{}: fix the first FAIL, then check again",
            verdicts.len()
        );
    }
}
