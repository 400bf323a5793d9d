//! Rootfs assembly for 20 containers over the same 3 layers: the overlay
//! driver against the copy driver, time and bytes on disk, in one run.
//!
//! Run as root: `cargo bench --bench union`. The overlays are mounted in a
//! private mount namespace of this process, so the host never sees them
//! and the kernel drops any that are left when the process ends.

use std::path::PathBuf;
use std::time::Instant;

use nix::sched::CloneFlags;
use wharf::container::ContainerDir;
use wharf::union::{disk_usage, human_bytes, Driver, Rootfs};

const CONTAINERS: usize = 20;

fn main() -> anyhow::Result<()> {
    wharf::cli::lesson::require_root("benches/union")?;
    let state = tempfile::Builder::new()
        .prefix("wharf-bench-")
        .tempdir_in("/tmp")?;
    std::env::set_var("WHARF_ROOT", state.path());
    let lowers = layers(&state.path().join("image"))?;
    wharf::sys::unshare(
        CloneFlags::CLONE_NEWNS,
        "a mount namespace of our own for the benchmark's overlays",
    )?;
    wharf::rootfs::pivot::make_private()?;

    let image = lowers
        .iter()
        .map(|l| disk_usage(l))
        .sum::<anyhow::Result<u64>>()?;
    println!(
        "rootfs assembly: {CONTAINERS} containers over the same 3 layers ({} of image)\n",
        human_bytes(image)
    );
    println!(
        "{:<8} {:>10} {:>14} {:>12} {:>14}",
        "driver", "total", "per container", "on disk", "per container"
    );
    let mut rows = Vec::new();
    for driver in [Driver::Overlay, Driver::Copy] {
        let (secs, bytes) = assemble(driver, &lowers)?;
        let n = CONTAINERS as f64;
        println!(
            "{:<8} {:>8.1}ms {:>12.2}ms {:>12} {:>14}",
            driver.to_string(),
            secs * 1e3,
            secs * 1e3 / n,
            human_bytes(bytes),
            human_bytes(bytes / CONTAINERS as u64)
        );
        rows.push((secs, bytes.max(1)));
    }
    let (o, c) = (rows[0], rows[1]);
    println!(
        "\ncopy / overlay: {:.1}x the time, {:.0}x the bytes on disk",
        c.0 / o.0,
        c.1 as f64 / o.1 as f64
    );
    Ok(())
}

/// The built-in rootfs and two small layers on it.
fn layers(image: &std::path::Path) -> anyhow::Result<Vec<PathBuf>> {
    let base = wharf::rootfs::ensure_builtin()?;
    let mut lowers = vec![base];
    for (name, file, text) in [
        ("2-app", "app/config", "color=blue\n"),
        ("3-patch", "app/config", "color=green\n"),
    ] {
        let p = image.join(name).join(file);
        std::fs::create_dir_all(p.parent().expect("parent"))?;
        std::fs::write(&p, text)?;
        lowers.push(image.join(name));
    }
    Ok(lowers)
}

/// Prepare and mount `CONTAINERS` roots; the time it took and the bytes
/// their directories hold. Everything is unmounted and removed after.
fn assemble(driver: Driver, lowers: &[PathBuf]) -> anyhow::Result<(f64, u64)> {
    let mut made = Vec::new();
    let start = Instant::now();
    for _ in 0..CONTAINERS {
        let dir = ContainerDir::create(None)?;
        let rootfs = Rootfs::prepare(driver, lowers, &dir.path)?;
        rootfs.mount()?;
        made.push((dir, rootfs));
    }
    let secs = start.elapsed().as_secs_f64();
    let bytes = made
        .iter()
        .map(|(d, _)| disk_usage(&d.path))
        .sum::<anyhow::Result<u64>>()?;
    for (dir, rootfs) in made {
        rootfs.unmount()?;
        dir.remove()?;
    }
    Ok((secs, bytes))
}
