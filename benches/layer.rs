//! Layer export and apply of a 10,000-file layer, against GNU tar on the
//! same content in the same run: files/s, MB/s and the ratio.
//!
//! Run as root: `cargo bench --bench layer` (apply restores owners, which
//! needs root, as GNU tar does for root). The trees live in /dev/shm
//! (tmpfs) so the numbers measure the tools, not the disk's writeback
//! (set WHARF_BENCH_DIR to measure another filesystem). Neither side calls
//! fsync. The median of a few rounds is shown.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use wharf::layer::{self, ApplyOptions};

const DIRS: usize = 100;
const FILES_PER_DIR: usize = 100;
const ROUNDS: usize = 3;

fn main() -> anyhow::Result<()> {
    wharf::cli::lesson::require_root("benches/layer")?;
    let base = std::env::var_os("WHARF_BENCH_DIR").unwrap_or_else(|| "/dev/shm".into());
    let tmp = tempfile::Builder::new()
        .prefix("wharf-bench-layer-")
        .tempdir_in(&base)?;
    let src = tmp.path().join("src");
    let bytes = make_tree(&src)?;
    let files = (DIRS * FILES_PER_DIR) as f64;
    println!(
        "layer export/apply: {} files in {DIRS} dirs, {:.1} MB, in {}; median of {ROUNDS} rounds\n",
        DIRS * FILES_PER_DIR,
        bytes as f64 / 1e6,
        tmp.path().display()
    );
    println!(
        "{:<7} {:<8} {:>9} {:>10} {:>8} {:>12}",
        "step", "tool", "time", "files/s", "MB/s", "vs tar"
    );
    let (wtar, gtar) = (tmp.path().join("wharf.tar"), tmp.path().join("gnu.tar"));
    let export_w = median(|| timed(|| layer::export_to_file(&src, &wtar).map(drop)))?;
    let export_g = median(|| timed(|| gnu_tar(&["-cf", path(&gtar), "-C", path(&src), "."])))?;
    let apply_w = median(|| {
        fresh(tmp.path(), "wharf-out", false, |out| {
            layer::apply_file(&wtar, out, &ApplyOptions::default()).map(drop)
        })
    })?;
    let apply_g = median(|| {
        fresh(tmp.path(), "gnu-out", true, |out| {
            gnu_tar(&["-xf", path(&gtar), "-C", path(out)])
        })
    })?;
    for (step, w, g) in [("export", export_w, export_g), ("apply", apply_w, apply_g)] {
        row(step, "wharf", w, files, bytes, Some(g / w));
        row(step, "GNU tar", g, files, bytes, None);
    }
    check_same(&src, tmp.path())?;
    Ok(())
}

/// `DIRS` directories of `FILES_PER_DIR` files, 0-8 KiB of varied bytes
/// each (a deterministic mix, like a layer of source files and configs).
fn make_tree(src: &Path) -> anyhow::Result<u64> {
    let mut total = 0u64;
    let mut seed = 0x9e37_79b9_u32;
    for d in 0..DIRS {
        let dir = src.join(format!("d{d:03}"));
        std::fs::create_dir_all(&dir)?;
        for f in 0..FILES_PER_DIR {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let len = (seed >> 19) as usize; // 0..8191
            let data: Vec<u8> = (0..len).map(|i| (i as u32 ^ seed) as u8).collect();
            std::fs::write(dir.join(format!("f{f:03}.txt")), &data)?;
            total += len as u64;
        }
    }
    Ok(total)
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

fn gnu_tar(args: &[&str]) -> anyhow::Result<()> {
    let st = Command::new("tar").args(args).status()?;
    anyhow::ensure!(st.success(), "tar {args:?} failed: {st}");
    Ok(())
}

fn timed(f: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let t = Instant::now();
    f()?;
    Ok(t.elapsed().as_secs_f64())
}

/// Time `f` extracting into `dir/name`, emptied first outside the timing.
/// `tar -C` needs the directory made beforehand; wharf's apply makes it.
fn fresh(
    dir: &Path,
    name: &str,
    make: bool,
    f: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<f64> {
    let out = dir.join(name);
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
    if make {
        std::fs::create_dir(&out)?;
    }
    timed(|| f(&out))
}

fn median(mut f: impl FnMut() -> anyhow::Result<f64>) -> anyhow::Result<f64> {
    let mut v = (0..ROUNDS)
        .map(|_| f())
        .collect::<anyhow::Result<Vec<f64>>>()?;
    v.sort_by(f64::total_cmp);
    Ok(v[ROUNDS / 2])
}

fn row(step: &str, tool: &str, secs: f64, files: f64, bytes: u64, ratio: Option<f64>) {
    // How many times GNU tar's time wharf's is: above 1.00x wharf is faster.
    let ratio = ratio.map(|r| format!("{r:.2}x")).unwrap_or_default();
    println!(
        "{step:<7} {tool:<8} {:>7.1}ms {:>10.0} {:>8.1} {:>12}",
        secs * 1e3,
        files / secs,
        bytes as f64 / 1e6 / secs,
        ratio
    );
}

/// Both extractions hold the tree we started from, or the numbers mean nothing.
fn check_same(src: &Path, tmp: &Path) -> anyhow::Result<()> {
    let want = layer::manifest(src)?;
    for out in [tmp.join("wharf-out"), tmp.join("gnu-out")] {
        let diff = want.diff(&layer::manifest(&out)?);
        anyhow::ensure!(
            diff.is_empty(),
            "{} differs from the source: {:?}",
            out.display(),
            &diff[..diff.len().min(5)]
        );
    }
    println!("\nboth extractions match the source tree (names, modes, owners, contents)");
    Ok(())
}
