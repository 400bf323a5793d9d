//! What the container benches share: finding wharf's binaries, one OCI
//! bundle for every runtime, the peers (runc, and crun in the private
//! mount namespace it needs on a hybrid host), interleaved timing, and the
//! check that nothing was left behind.
//!
//! Timing: every round runs each variant once, and the round's order
//! rotates (A,B,C then B,C,A then C,A,B...), so drift (the other cores'
//! load, page cache, cgroup v1's locks) hits every variant alike and no
//! variant always runs right after the same neighbour. The first rounds
//! are warm-ups and are not kept.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

pub const UNIFIED: &str = "/sys/fs/cgroup/unified";

/// One thing to time: a command per run, and what to clean after it.
pub struct Variant {
    pub name: String,
    /// The command for run `i` (a unique container id where one is needed).
    pub cmd: Box<dyn Fn(usize) -> Command>,
    /// Clean up after run `i` (not timed).
    pub after: Box<dyn Fn(usize)>,
    /// Milliseconds, one per kept run, in run order.
    pub times: Vec<f64>,
}

pub fn variant(name: &str, cmd: impl Fn(usize) -> Command + 'static) -> Variant {
    Variant {
        name: name.to_string(),
        cmd: Box::new(cmd),
        after: Box::new(|_| {}),
        times: Vec::new(),
    }
}

/// `warmup` rounds, then `runs` kept ones; the order rotates each round.
pub fn measure(vs: &mut [Variant], warmup: usize, runs: usize) -> anyhow::Result<()> {
    let n = vs.len();
    for round in 0..warmup + runs {
        for k in 0..n {
            let v = &mut vs[(round + k) % n];
            let mut cmd = (v.cmd)(round);
            cmd.stdin(Stdio::null()).stdout(Stdio::null());
            let start = Instant::now();
            let status = cmd.status()?;
            let ms = start.elapsed().as_secs_f64() * 1e3;
            (v.after)(round);
            anyhow::ensure!(
                status.success(),
                "{} failed ({status}) on run {round}",
                v.name
            );
            if round >= warmup {
                v.times.push(ms);
            }
        }
    }
    Ok(())
}

/// The `q` quantile (0.5: the median) of unsorted values.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut s = values.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s[((s.len() as f64 - 1.0) * q).round() as usize]
}

/// Median and p90 of a variant, by name.
pub fn stat(vs: &[Variant], name: &str) -> (f64, f64) {
    let v = vs.iter().find(|v| v.name == name).expect("variant");
    (quantile(&v.times, 0.5), quantile(&v.times, 0.9))
}

/// The median of `a[i] / b[i]` over runs of the same round: the ratio with
/// the round's drift divided out.
pub fn paired_ratio(vs: &[Variant], a: &str, b: &str) -> f64 {
    let get = |n: &str| &vs.iter().find(|v| v.name == n).expect("variant").times;
    let r: Vec<f64> = get(a).iter().zip(get(b)).map(|(x, y)| x / y).collect();
    quantile(&r, 0.5)
}

/// A median/p90 table; on a hybrid host, a `crun` row also shows up with
/// the crun wrapper's median subtracted. Returns the rows' medians.
pub fn print_table(vs: &[Variant], wrapper: Option<&str>) -> Vec<(String, f64)> {
    let w = wrapper.map(|w| stat(vs, w).0);
    println!("\n{:<22} {:>10} {:>10}", "variant", "median", "p90");
    let mut rows = Vec::new();
    for v in vs {
        let (m, p) = stat(vs, &v.name);
        println!("{:<22} {m:>8.2}ms {p:>8.2}ms", v.name);
        rows.push((v.name.clone(), m));
        if let (Some(w), Some(rt)) = (w, v.name.strip_suffix(" (raw)")) {
            println!(
                "{rt:<22} {:>8.2}ms {:>8.2}ms   (wrapper subtracted)",
                m - w,
                p - w
            );
            rows.push((rt.to_string(), m - w));
        }
    }
    rows
}

pub fn median_of(rows: &[(String, f64)], name: &str) -> f64 {
    rows.iter().find(|r| r.0 == name).map(|r| r.1).expect("row")
}

pub fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}

/// Whether this host is hybrid (v1 controllers plus cgroup2 at unified).
pub fn hybrid() -> bool {
    Path::new(UNIFIED).join("cgroup.procs").exists()
}

/// `sh -c 'umount /sys/fs/cgroup/unified && SCRIPT'` in a private mount
/// namespace: crun refuses hybrid cgroups, and sees pure v1 in there.
pub fn in_private_ns(script: &str) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(format!("umount {UNIFIED} && {script}"));
    cmd
}

/// A binary of this workspace: `WHARF_BENCH_<NAME>` if set, else the
/// release build, else the debug one; and which it is.
pub fn built(name: &str) -> anyhow::Result<(PathBuf, String)> {
    let var = format!("WHARF_BENCH_{}", name.to_uppercase().replace('-', "_"));
    if let Some(p) = std::env::var_os(&var) {
        return Ok((PathBuf::from(p), format!("chosen by {var}")));
    }
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    for profile in ["release", "debug"] {
        let p = target.join(profile).join(name);
        if p.is_file() {
            return Ok((p, format!("{profile} profile")));
        }
    }
    anyhow::bail!("no {name} built: run `cargo build --release` for it first")
}

pub fn run_ok(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd.output()?;
    anyhow::ensure!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

/// Where the bench's temp dir goes: `WHARF_BENCH_TMP`, else /dev/shm (a
/// tmpfs, as /run is on most hosts, where runtimes keep their state), so
/// the disk's latency under other load does not swamp the runtimes' own.
pub fn scratch() -> PathBuf {
    std::env::var_os("WHARF_BENCH_TMP")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/dev/shm"))
}

/// A temp dir (in [`scratch`]) with a rootfs (`wharf rootfs create`) and a bundle whose
/// config.json is `runc spec`'s with /bin/true, no terminal, that rootfs,
/// then `edit`ed.
pub fn bundle(
    wharf: &Path,
    edit: impl FnOnce(&mut serde_json::Value),
) -> anyhow::Result<(tempfile::TempDir, PathBuf)> {
    let tmp = tempfile::Builder::new()
        .prefix("wharf-bench-")
        .tempdir_in(scratch())?;
    let t = tmp.path();
    let rootfs = t.join("rootfs");
    run_ok(
        Command::new(wharf)
            .args(["rootfs", "create"])
            .arg(&rootfs)
            .env("WHARF_ROOT", t),
    )?;
    let bundle = t.join("bundle");
    std::fs::create_dir_all(&bundle)?;
    run_ok(Command::new("runc").args(["spec", "--bundle"]).arg(&bundle))?;
    let path = bundle.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    spec["process"]["args"] = serde_json::json!(["/bin/true"]);
    spec["process"]["terminal"] = serde_json::json!(false);
    spec["root"]["path"] = serde_json::json!(rootfs);
    edit(&mut spec);
    std::fs::write(&path, serde_json::to_vec_pretty(&spec)?)?;
    Ok((tmp, bundle))
}

/// An OCI runtime behind runc's command line, with a state root of its
/// own in the bench's temp dir.
#[derive(Clone)]
pub struct Runtime {
    pub name: &'static str,
    pub program: PathBuf,
    pub state: PathBuf,
    /// WHARF_ROOT for wharf-oci (its cgroups carry that root's tag).
    pub env: Vec<(String, PathBuf)>,
    /// crun on a hybrid host: through [`in_private_ns`].
    pub wrap: bool,
}

impl Runtime {
    pub fn peer(name: &'static str, dir: &Path) -> Runtime {
        Runtime {
            name,
            program: PathBuf::from(name),
            state: dir.join(format!("{name}-state")),
            env: Vec::new(),
            wrap: name == "crun" && hybrid(),
        }
    }

    /// `RUNTIME --root STATE ARGS`, wrapped if need be.
    pub fn cmd(&self, args: &str) -> Command {
        let line = format!(
            "exec {} --root {} {args}",
            self.program.display(),
            self.state.display()
        );
        let mut cmd = if self.wrap {
            in_private_ns(&line)
        } else {
            let mut c = Command::new("sh");
            c.args(["-c", &line]);
            c
        };
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// The id of run `i` of this runtime (the tag makes it ours).
    pub fn id(&self, tag: &str, i: usize) -> String {
        format!("{tag}-{}-{i}", self.name)
    }

    /// `run --bundle B ID`, the container deleted after each run.
    pub fn run_variant(&self, name: &str, bundle: &Path, tag: &str) -> Variant {
        let (rt, b, tg) = (self.clone(), bundle.to_path_buf(), tag.to_string());
        let mut v = variant(name, move |i| {
            rt.cmd(&format!("run --bundle {} {}", b.display(), rt.id(&tg, i)))
        });
        let (rt, tg) = (self.clone(), tag.to_string());
        v.after = Box::new(move |i| rt.delete(&rt.id(&tg, i)));
        v
    }

    pub fn delete(&self, id: &str) {
        let _ = self
            .cmd(&format!("delete -f {id}"))
            .stderr(Stdio::null())
            .status();
    }

    /// The containers its state root still knows.
    pub fn list(&self) -> Vec<String> {
        let out = self
            .cmd("list -q")
            .output()
            .map(|o| o.stdout)
            .unwrap_or_default();
        String::from_utf8_lossy(&out)
            .lines()
            .map(|l| format!("{}: {l}", self.name))
            .collect()
    }
}

/// What the host holds of ours before a bench, to compare with after it.
pub struct Leftovers {
    dir: PathBuf,
    tags: Vec<String>,
    mounts: BTreeSet<String>,
    cgroups: BTreeSet<String>,
}

impl Leftovers {
    /// Mount points under `dir`, and cgroups whose path holds one of `tags`.
    pub fn before(dir: &Path, tags: Vec<String>) -> anyhow::Result<Leftovers> {
        Ok(Leftovers {
            dir: dir.to_path_buf(),
            mounts: mounts_under(dir)?,
            cgroups: cgroup_dirs(&tags),
            tags,
        })
    }

    /// Print what is new, and fail if anything is (or a runtime still
    /// lists a container).
    pub fn check(&self, runtimes: &[Runtime]) -> anyhow::Result<()> {
        let mounts: Vec<_> = mounts_under(&self.dir)?
            .difference(&self.mounts)
            .cloned()
            .collect();
        let cgroups: Vec<_> = cgroup_dirs(&self.tags)
            .difference(&self.cgroups)
            .cloned()
            .collect();
        let state: Vec<String> = runtimes.iter().flat_map(Runtime::list).collect();
        println!(
            "\nleft behind: {} mounts, {} cgroups, {} containers",
            mounts.len(),
            cgroups.len(),
            state.len()
        );
        for l in mounts.iter().chain(&cgroups).chain(&state) {
            println!("  {l}");
        }
        anyhow::ensure!(
            mounts.is_empty() && cgroups.is_empty() && state.is_empty(),
            "the bench left state behind (listed above)"
        );
        Ok(())
    }
}

fn mounts_under(dir: &Path) -> anyhow::Result<BTreeSet<String>> {
    let d = dir.to_string_lossy().into_owned();
    Ok(std::fs::read_to_string("/proc/self/mountinfo")?
        .lines()
        .filter(|l| l.contains(&d))
        .map(String::from)
        .collect())
}

/// Cgroup directories up to three levels deep, on every hierarchy, whose
/// path holds one of `tags`.
pub fn cgroup_dirs(tags: &[String]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut walk = vec![(PathBuf::from("/sys/fs/cgroup"), 0)];
    while let Some((d, depth)) = walk.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                let p = e.path().display().to_string();
                if tags.iter().any(|t| p.contains(t.as_str())) {
                    out.insert(p);
                }
                if depth < 2 {
                    walk.push((e.path(), depth + 1));
                }
            }
        }
    }
    out
}
