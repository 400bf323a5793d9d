//! `wharf load` against `podman load`, `umoci unpack` and GNU `tar -x` on
//! the same image, built here from the host's /usr (about 450 MB in about
//! 20,000 files by default; WHARF_BENCH_MB changes the size), side by side
//! in one run, rounds interleaved, medians and ratios printed with issue
//! 10's targets (wharf at least 3x faster than podman load, at most 1.3x
//! tar's time). Also: wharf load's peak memory for this image and for one
//! twice as large (it streams, so it should not grow with the image), and
//! the bytes a second image on the same base writes.
//!
//! Run as root: `cargo bench --bench image`. Work happens in
//! WHARF_BENCH_DIR (default /var/tmp) and is removed at the end.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use sha2::{Digest as _, Sha256};

fn main() -> anyhow::Result<()> {
    wharf::cli::lesson::require_root("benches/image")?;
    let mb: u64 = env_or("WHARF_BENCH_MB", 450);
    let rounds: usize = env_or("WHARF_BENCH_ROUNDS", 3);
    for tool in ["tar", "podman", "umoci", "skopeo"] {
        anyhow::ensure!(on_path(tool), "{tool} is missing: run tests/setup.sh");
    }
    let base = std::env::var_os("WHARF_BENCH_DIR").unwrap_or_else(|| "/var/tmp".into());
    let tmp = tempfile::Builder::new()
        .prefix("wharf-bench-image-")
        .tempdir_in(&base)?;
    let w = Work {
        dir: tmp.path().to_path_buf(),
    };
    let (files, bytes) = w.pick_files(mb * 1_000_000)?;
    let layer = w.layer("layer.tar", &[])?;
    let image = w.docker_archive("image.tar", &[&layer], "bench:1")?;
    let oci = w.dir.join("oci");
    run(Command::new("skopeo")
        .args(["copy", "-q"])
        .arg(format!("docker-archive:{}", image.display()))
        .arg(format!("oci:{}:t", oci.display())))?;
    println!(
        "image: one layer of {files} files, {:.0} MB, in {}; {rounds} rounds, medians\n",
        bytes as f64 / 1e6,
        w.dir.display()
    );

    let mut times: [Vec<f64>; 4] = Default::default();
    let mut peak = 0;
    for r in 0..rounds {
        let out = w.fresh(&format!("tar-{r}"))?;
        times[0].push(
            timed(
                Command::new("tar")
                    .arg("-xf")
                    .arg(&layer)
                    .arg("-C")
                    .arg(&out),
            )?
            .0,
        );
        let root = w.fresh(&format!("wharf-{r}"))?;
        let (t, rss, _) = timed(wharf(&root).args(["load", "-q", "-i"]).arg(&image))?;
        times[1].push(t);
        peak = peak.max(rss);
        let store = w.fresh(&format!("podman-{r}"))?;
        times[2].push(timed(podman(&store).args(["load", "-q", "-i"]).arg(&image))?.0);
        let bundle = w.dir.join(format!("umoci-{r}"));
        times[3].push(
            timed(
                Command::new("umoci")
                    .args(["unpack", "--image"])
                    .arg(format!("{}:t", oci.display()))
                    .arg(&bundle),
            )?
            .0,
        );
        w.clean(r)?;
    }
    let m: Vec<f64> = times.iter_mut().map(|v| median(v)).collect();
    println!(
        "{:<14} {:>8} {:>10} {:>12}",
        "tool", "time", "MB/s", "wharf is"
    );
    for (name, t) in ["GNU tar -x", "wharf load", "podman load", "umoci unpack"]
        .iter()
        .zip(&m)
    {
        let vs = if *name == "wharf load" {
            "-".to_string()
        } else {
            format!("{:.2}x faster", t / m[1])
        };
        println!(
            "{name:<14} {:>7.2}s {:>10.0} {vs:>12}",
            t,
            bytes as f64 / 1e6 / t
        );
    }
    let verdict = |ok: bool| if ok { "PASS" } else { "MISS" };
    println!(
        "\ntarget: wharf load >= 3x faster than podman load: {:.2}x {}",
        m[2] / m[1],
        verdict(m[2] / m[1] >= 3.0)
    );
    println!(
        "target: wharf load <= 1.3x tar -x: {:.2}x {}",
        m[1] / m[0],
        verdict(m[1] / m[0] <= 1.3)
    );

    // Twice as large: the same files again under another directory.
    let copy = w.layer("copy.tar", &["--transform", "s,^,copy/,"])?;
    let double = w.docker_archive("double.tar", &[&layer, &copy], "bench:2x")?;
    let root = w.fresh("wharf-double")?;
    let (_, rss2, _) = timed(wharf(&root).args(["load", "-q", "-i"]).arg(&double))?;
    println!(
        "\npeak memory of wharf load: {:.1} MB for {:.0} MB, {:.1} MB for {:.0} MB",
        peak as f64 / 1024.0,
        bytes as f64 / 1e6,
        rss2 as f64 / 1024.0,
        2.0 * bytes as f64 / 1e6
    );

    // A second image on the same base: only its own layer is written.
    let top = w.small_layer()?;
    let second = w.docker_archive("second.tar", &[&layer, &top], "bench:top")?;
    let root = w.fresh("wharf-shared")?;
    timed(wharf(&root).args(["load", "-q", "-i"]).arg(&image))?;
    let before = wharf::image::store::disk_bytes(&root.join("images"))?;
    let (_, _, blocks) = timed(wharf(&root).args(["load", "-q", "-i"]).arg(&second))?;
    let after = wharf::image::store::disk_bytes(&root.join("images"))?;
    println!(
        "second image on the same base: the store grew by {} bytes (its top layer is {} bytes); the load wrote {} blocks of 512 bytes",
        after - before,
        std::fs::metadata(&top)?.len(),
        blocks
    );
    Ok(())
}

struct Work {
    dir: PathBuf,
}

impl Work {
    /// Regular files of /usr for an image of `budget` bytes with about
    /// 20,000 files per 450 MB: small files spread over the whole tree
    /// (every n-th), then larger ones until the bytes are there. The list
    /// goes to files.txt for tar.
    fn pick_files(&self, budget: u64) -> anyhow::Result<(usize, u64)> {
        let mut all = Vec::new();
        walk(Path::new("/usr"), &mut |p, len| {
            all.push((p.to_path_buf(), len))
        })?;
        let want = (20_000 * budget / 450_000_000).max(1) as usize;
        let small: Vec<&(PathBuf, u64)> = all.iter().filter(|(_, l)| *l <= 256 << 10).collect();
        let stride = (small.len() / want).max(1);
        let mut picked: Vec<&(PathBuf, u64)> =
            small.into_iter().step_by(stride).take(want).collect();
        let mut total: u64 = picked.iter().map(|(_, l)| l).sum();
        for f in all.iter().filter(|(_, l)| *l > 256 << 10) {
            if total >= budget {
                break;
            }
            total += f.1;
            picked.push(f);
        }
        let list: Vec<PathBuf> = picked
            .iter()
            .map(|(p, _)| p.strip_prefix("/").unwrap_or(p).to_path_buf())
            .collect();
        let mut f = std::fs::File::create(self.dir.join("files.txt"))?;
        for p in &list {
            writeln!(f, "{}", p.display())?;
        }
        Ok((list.len(), total))
    }

    /// The layer tar of the picked files (GNU tar, numeric owners).
    fn layer(&self, name: &str, extra: &[&str]) -> anyhow::Result<PathBuf> {
        let out = self.dir.join(name);
        run(Command::new("tar")
            .args(["-C", "/", "--numeric-owner", "-cf"])
            .arg(&out)
            .args(extra)
            .arg("-T")
            .arg(self.dir.join("files.txt")))?;
        Ok(out)
    }

    fn small_layer(&self) -> anyhow::Result<PathBuf> {
        let src = self.dir.join("top");
        std::fs::create_dir_all(&src)?;
        std::fs::write(src.join("app"), vec![b'a'; 100_000])?;
        let out = self.dir.join("top.tar");
        run(Command::new("tar")
            .arg("-C")
            .arg(&src)
            .args(["-cf"])
            .arg(&out)
            .arg("."))?;
        Ok(out)
    }

    /// A docker-archive of these layers, streamed from their files.
    fn docker_archive(&self, name: &str, layers: &[&Path], tag: &str) -> anyhow::Result<PathBuf> {
        let mut diff_ids = Vec::new();
        for l in layers {
            let mut h = Sha256::new();
            std::io::copy(&mut std::fs::File::open(l)?, &mut h)?;
            diff_ids.push(format!("sha256:{}", hex::encode(h.finalize())));
        }
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }))?;
        let names: Vec<String> = (0..layers.len()).map(|i| format!("{i}.tar")).collect();
        let manifest = serde_json::to_vec(
            &serde_json::json!([{"Config": "config.json", "RepoTags": [tag], "Layers": names}]),
        )?;
        let out = self.dir.join(name);
        let mut b = tar::Builder::new(std::io::BufWriter::new(std::fs::File::create(&out)?));
        for (n, data) in [("manifest.json", &manifest), ("config.json", &config)] {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, n, &data[..])?;
        }
        for (n, l) in names.iter().zip(layers) {
            b.append_path_with_name(l, n)?;
        }
        b.into_inner()?.flush()?;
        Ok(out)
    }

    fn fresh(&self, name: &str) -> anyhow::Result<PathBuf> {
        let p = self.dir.join(name);
        std::fs::create_dir_all(&p)?;
        Ok(p)
    }

    /// Drop a round's outputs, so the disk holds one copy at a time.
    fn clean(&self, r: usize) -> anyhow::Result<()> {
        for k in ["tar", "wharf", "podman", "umoci"] {
            let p = self.dir.join(format!("{k}-{r}"));
            if p.exists() {
                std::fs::remove_dir_all(&p)?;
            }
        }
        Ok(())
    }
}

fn walk(dir: &Path, f: &mut impl FnMut(&Path, u64)) -> std::io::Result<()> {
    let mut names: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    names.sort();
    for p in names {
        let m = std::fs::symlink_metadata(&p)?;
        if m.is_dir() {
            walk(&p, f)?;
        } else if m.is_file() {
            f(&p, m.len());
        }
    }
    Ok(())
}

fn wharf(root: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wharf"));
    c.env("WHARF_ROOT", root);
    c
}

fn podman(store: &Path) -> Command {
    let mut c = Command::new("podman");
    c.arg("--root")
        .arg(store.join("root"))
        .arg("--runroot")
        .arg(store.join("run"));
    c.args(["--cgroup-manager", "cgroupfs", "--events-backend", "none"]);
    c
}

/// Run to the end: seconds, peak RSS (KiB) and blocks written, from wait4.
fn timed(c: &mut Command) -> anyhow::Result<(f64, i64, i64)> {
    let start = Instant::now();
    let child = c.stdout(Stdio::null()).stderr(Stdio::piped()).spawn()?;
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: waiting for our own child, with valid pointers.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let secs = start.elapsed().as_secs_f64();
    anyhow::ensure!(r == pid, "wait4 failed for {c:?}");
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        let mut err = String::new();
        if let Some(mut e) = child.stderr {
            std::io::Read::read_to_string(&mut e, &mut err)?;
        }
        anyhow::bail!("{c:?} failed: {err}");
    }
    Ok((secs, usage.ru_maxrss, usage.ru_oublock))
}

fn run(c: &mut Command) -> anyhow::Result<()> {
    timed(c).map(drop)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}
