//! What the benches share: an image built from the host's /usr, peers
//! on throwaway stores, and timing with peak memory from wait4.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use sha2::{Digest as _, Sha256};

pub struct Work {
    pub dir: PathBuf,
}

impl Work {
    /// As root, with every peer in `tools` installed: a work dir in
    /// WHARF_BENCH_DIR (default /var/tmp), removed when the TempDir drops.
    pub fn new(
        bench: &str,
        prefix: &str,
        tools: &[&str],
    ) -> anyhow::Result<(tempfile::TempDir, Work)> {
        wharf::cli::lesson::require_root(&format!("benches/{bench}"))?;
        for tool in tools {
            anyhow::ensure!(on_path(tool), "{tool} is missing: run tests/setup.sh");
        }
        let base = std::env::var_os("WHARF_BENCH_DIR").unwrap_or_else(|| "/var/tmp".into());
        let tmp = tempfile::Builder::new().prefix(prefix).tempdir_in(&base)?;
        let w = Work {
            dir: tmp.path().to_path_buf(),
        };
        Ok((tmp, w))
    }

    /// The bench image (WHARF_BENCH_MB, default 450): its file count,
    /// bytes, layer tar and docker-archive (tagged bench:1).
    pub fn bench_image(&self) -> anyhow::Result<(usize, u64, PathBuf, PathBuf)> {
        let mb: u64 = env_or("WHARF_BENCH_MB", 450);
        let (files, bytes) = self.pick_files(mb * 1_000_000)?;
        let layer = self.layer("layer.tar", &[])?;
        let image = self.docker_archive("image.tar", &[&layer], "bench:1")?;
        Ok((files, bytes, layer, image))
    }

    /// Regular files of /usr for an image of `budget` bytes with about
    /// 20,000 files per 450 MB: small files spread over the whole tree
    /// (every n-th), then larger ones until the bytes are there. The list
    /// goes to files.txt for tar.
    pub fn pick_files(&self, budget: u64) -> anyhow::Result<(usize, u64)> {
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
    pub fn layer(&self, name: &str, extra: &[&str]) -> anyhow::Result<PathBuf> {
        let out = self.dir.join(name);
        run(Command::new("tar")
            .args(["-C", "/", "--numeric-owner", "-cf"])
            .arg(&out)
            .args(extra)
            .arg("-T")
            .arg(self.dir.join("files.txt")))?;
        Ok(out)
    }

    pub fn small_layer(&self) -> anyhow::Result<PathBuf> {
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
    pub fn docker_archive(
        &self,
        name: &str,
        layers: &[&Path],
        tag: &str,
    ) -> anyhow::Result<PathBuf> {
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

    pub fn fresh(&self, name: &str) -> anyhow::Result<PathBuf> {
        let p = self.dir.join(name);
        std::fs::create_dir_all(&p)?;
        Ok(p)
    }

    /// Drop a round's outputs, so the disk holds one copy at a time.
    pub fn clean(&self, r: usize) -> anyhow::Result<()> {
        for k in ["tar", "wharf", "podman", "umoci"] {
            let p = self.dir.join(format!("{k}-{r}"));
            if p.exists() {
                std::fs::remove_dir_all(&p)?;
            }
        }
        Ok(())
    }
}

pub fn walk(dir: &Path, f: &mut impl FnMut(&Path, u64)) -> std::io::Result<()> {
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

pub fn wharf(root: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_wharf"));
    c.env("WHARF_ROOT", root);
    c
}

pub fn podman(store: &Path) -> Command {
    let mut c = Command::new("podman");
    c.arg("--root")
        .arg(store.join("root"))
        .arg("--runroot")
        .arg(store.join("run"));
    c.args(["--cgroup-manager", "cgroupfs", "--events-backend", "none"]);
    c
}

/// Run to the end: seconds, peak RSS (KiB) and blocks written, from wait4.
pub fn timed(c: &mut Command) -> anyhow::Result<(f64, i64, i64)> {
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

pub fn run(c: &mut Command) -> anyhow::Result<()> {
    timed(c).map(drop)
}

pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}
