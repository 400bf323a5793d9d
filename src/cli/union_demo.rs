//! Chapter 05's `--demo`: three small layers, two containers on them at
//! the same time, and the two drivers side by side. Each container is this
//! same program run again with `--layers`, so every one is an ordinary
//! chapter-05 run. It starts processes and prints, so it is a face.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use crate::container::ContainerDir;
use crate::union::changes::{fingerprint, report};
use crate::union::{self, disk_usage, human_bytes, Driver, Rootfs};
use anyhow::Context;

/// Layer 2 and 3 of the demo image, on top of the built-in rootfs.
const LAYERS: [(&str, &[(&str, &str)]); 2] = [
    (
        "2-app",
        &[
            ("app/greeting", "hello from layer 2-app\n"),
            ("app/config", "color=blue\n"),
        ],
    ),
    (
        "3-patch",
        &[("app/config", "color=green\n"), ("app/VERSION", "3\n")],
    ),
];

/// A writes over a layer's file, deletes another and adds one; B only adds.
const SCRIPT_A: &str = "echo 'color=red (A wrote this)' > /app/config; rm /app/greeting; echo a > /app/a.txt; sleep 1; cat /app/config; ls /app";
const SCRIPT_B: &str = "echo b > /app/b.txt; sleep 1; cat /app/config; ls /app";

pub fn run(driver: Driver, n: u32) -> anyhow::Result<i32> {
    let image = make_layers()?;
    let lowers: Vec<PathBuf> = union::layers_in(&image)?
        .iter()
        .map(|p| p.canonicalize())
        .collect::<Result<_, _>>()?;
    let before = fingerprints(&lowers)?;
    two_at_once(&image, driver, &lowers)?;
    compare(&image, n)?;
    if fingerprints(&lowers)? != before {
        anyhow::bail!("a lower layer changed during the demo: that must never happen");
    }
    println!("\nthe {} layers are unchanged: same names, sizes, modes, inodes and change times as before", lowers.len());
    Ok(0)
}

/// `<state>/layers/ch05-demo/{1-base -> built-in rootfs, 2-app, 3-patch}`.
fn make_layers() -> anyhow::Result<PathBuf> {
    let image = crate::paths::state_root().join("layers/ch05-demo");
    let base = crate::rootfs::choose(None)?;
    std::fs::create_dir_all(&image)?;
    let link = image.join("1-base");
    if link.symlink_metadata().is_err() {
        std::os::unix::fs::symlink(&base, &link)?;
    }
    for (layer, files) in LAYERS {
        for (rel, content) in files {
            let p = image.join(layer).join(rel);
            std::fs::create_dir_all(p.parent().expect("has a parent"))?;
            std::fs::write(&p, content)?;
        }
    }
    println!("an image of 3 layers in {}:", image.display());
    println!("  1-base   -> {} (the built-in rootfs)", base.display());
    println!("  2-app    /app/greeting, /app/config (color=blue)");
    println!("  3-patch  /app/config (color=green, hides 2-app's), /app/VERSION");
    Ok(image)
}

fn fingerprints(lowers: &[PathBuf]) -> anyhow::Result<Vec<u64>> {
    lowers.iter().map(|l| fingerprint(l)).collect()
}

/// This program again, as one container on `image` that is kept afterwards.
fn container(image: &Path, driver: Driver, id: &str, script: &str) -> anyhow::Result<Command> {
    let mut c = Command::new(std::env::current_exe().context("finding this program")?);
    c.arg("--layers").arg(image);
    c.args([
        "--driver",
        &driver.to_string(),
        "--keep",
        "--id",
        id,
        "--",
        "/bin/sh",
        "-c",
        script,
    ]);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    Ok(c)
}

fn check(out: Output, who: &str) -> anyhow::Result<Output> {
    if !out.status.success() {
        anyhow::bail!(
            "container {who} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out)
}

/// Start A and B at once; each writes, waits a second (the other is
/// running then), and prints what it sees.
fn two_at_once(image: &Path, driver: Driver, lowers: &[PathBuf]) -> anyhow::Result<()> {
    let tag = crate::paths::new_id()?;
    let ids = [format!("{tag}-a"), format!("{tag}-b")];
    let a = container(image, driver, &ids[0], SCRIPT_A)?.spawn()?;
    let b = container(image, driver, &ids[1], SCRIPT_B)?.spawn()?;
    let outs = [a.wait_with_output()?, b.wait_with_output()?];
    let dirs: Vec<ContainerDir> = ids
        .iter()
        .filter_map(|id| ContainerDir::existing(id).ok())
        .collect();
    println!("\ntwo containers on these layers at the same time ({driver} driver):");
    for ((name, dir), out) in ["A", "B"].iter().zip(&dirs).zip(outs) {
        let out = check(out, name)?;
        let root = Rootfs {
            driver,
            lowers: lowers.to_vec(),
            dir: dir.path.clone(),
        };
        println!("{name} saw:");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            println!("  | {line}");
        }
        where_changes_went(name, &root)?;
    }
    Ok(())
}

fn where_changes_went(name: &str, root: &Rootfs) -> anyhow::Result<()> {
    for line in report(root)? {
        println!("{name}: {line}");
    }
    Ok(())
}

/// N containers with each driver, one after another: time, bytes on disk.
fn compare(image: &Path, n: u32) -> anyhow::Result<()> {
    println!(
        "\n{n} containers per driver, each running /bin/true (containers kept until measured):"
    );
    println!(
        "  {:<8} {:>10} {:>12} {:>14}",
        "driver", "time", "on disk", "per container"
    );
    let mut rows = Vec::new();
    for driver in [Driver::Overlay, Driver::Copy] {
        let mut dirs = Vec::new();
        let start = Instant::now();
        for _ in 0..n {
            let id = crate::paths::new_id()?;
            let out = container(image, driver, &id, "true")?.output()?;
            dirs.extend(ContainerDir::existing(&id).ok());
            check(out, &id)?;
        }
        let secs = start.elapsed().as_secs_f64();
        let bytes = dirs
            .iter()
            .map(|d| disk_usage(&d.path))
            .sum::<anyhow::Result<u64>>()?;
        println!(
            "  {:<8} {:>8.2} s {:>12} {:>14}",
            driver.to_string(),
            secs,
            human_bytes(bytes),
            human_bytes(bytes / n.max(1) as u64)
        );
        rows.push((secs, bytes.max(1)));
    }
    let (o, c) = (rows[0], rows[1]);
    println!(
        "  copy / overlay: {:.1}x the time, {:.0}x the bytes",
        c.0 / o.0.max(1e-9),
        c.1 as f64 / o.1 as f64
    );
    Ok(())
}
