//! Container start latency: chapter 08's container against crun and runc
//! on the same rootfs, running /bin/true, side by side in one run.
//!
//! Run as root: `cargo bench --bench container`. It runs the binaries, so it
//! measures whatever ch08-security is built: `target/release/ch08-security`
//! if present (build it with `cargo build --release -p ch08-security`),
//! else `target/debug/ch08-security`; `WHARF_BENCH_CH08=PATH` picks one.
//! The profile used is printed. Everything lives in a temp dir (WHARF_ROOT,
//! the bundle, runc's and crun's --root); every container gets a unique id
//! and is deleted; the bench checks that no mount, cgroup or runc state is
//! left. crun refuses hybrid cgroups unless /sys/fs/cgroup/unified is
//! unmounted in a private mount namespace, so it runs through
//! `unshare -m --propagation private sh -c 'umount ...; exec crun ...'`,
//! and that wrapper's own cost (same wrapper, `exec /bin/true`) is
//! measured and subtracted. A MISS of the targets is printed, and
//! the bench still exits 0: it is a measurement.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const WARMUP: usize = 3;
const RUNS: usize = 30;
const UNIFIED: &str = "/sys/fs/cgroup/unified";

struct Variant {
    name: &'static str,
    /// The command for run `i` (a unique container id where one is needed).
    cmd: Box<dyn Fn(usize) -> Command>,
    /// Clean up after run `i` (not timed).
    after: Box<dyn Fn(usize)>,
    times: Vec<f64>,
}

fn main() -> anyhow::Result<()> {
    wharf::cli::lesson::require_root("benches/container")?;
    let (ch08, profile) = ch08_binary()?;
    let wharf_bin = sibling(&ch08, "wharf");
    let tmp = tempfile::Builder::new()
        .prefix("wharf-bench-")
        .tempdir_in("/tmp")?;
    let t = tmp.path().to_path_buf();
    let rootfs = t.join("rootfs");
    run_ok(
        Command::new(&wharf_bin)
            .args(["rootfs", "create"])
            .arg(&rootfs)
            .env("WHARF_ROOT", &t),
    )?;
    let bundle = t.join("bundle");
    make_bundle(&bundle, &rootfs)?;
    let hybrid = Path::new(UNIFIED).join("cgroup.procs").exists();
    let mounts_before = our_mounts(&t)?;
    let ours = [tag_of(&t), format!("wb{}", std::process::id())];
    let cgroups_before = cgroup_dirs(&ours);
    let tag = format!("wb{}", std::process::id());

    let mut vs: Vec<Variant> = Vec::new();
    let (c, w) = (ch08.clone(), t.clone());
    vs.push(variant("ch08", move |_| {
        let mut cmd = Command::new(&c);
        // stderr to /dev/null as for --explain, so the two differ only in the flag.
        cmd.args(["--", "/bin/true"])
            .env("WHARF_ROOT", &w)
            .stderr(Stdio::null());
        cmd
    }));
    let (c, w) = (ch08.clone(), t.clone());
    vs.push(variant("ch08 --explain", move |_| {
        let mut cmd = Command::new(&c);
        cmd.args(["--explain", "--", "/bin/true"])
            .env("WHARF_ROOT", &w)
            .stderr(Stdio::null());
        cmd
    }));
    for rt in ["runc", "crun"] {
        let state = t.join(format!("{rt}-state"));
        let (b, s, tg) = (bundle.clone(), state.clone(), tag.clone());
        let wrap = rt == "crun" && hybrid;
        let mut v = variant(rt, move |i| {
            let id = format!("{tg}-{rt}-{i}");
            let inner = format!(
                "{rt} --root {} run --bundle {} {id}",
                s.display(),
                b.display()
            );
            if wrap {
                in_private_ns(&format!("exec {inner}"))
            } else {
                let mut cmd = Command::new("sh");
                cmd.args(["-c", &format!("exec {inner}")]);
                cmd
            }
        });
        let (s, tg) = (state.clone(), tag.clone());
        v.after = Box::new(move |i| {
            let _ = Command::new(rt)
                .arg("--root")
                .arg(&s)
                .args(["delete", "-f", &format!("{tg}-{rt}-{i}")])
                .stderr(Stdio::null())
                .status();
        });
        vs.push(v);
    }
    if hybrid {
        vs.push(variant("crun wrapper", |_| in_private_ns("exec /bin/true")));
    }
    let r = rootfs.clone();
    vs.push(variant("unshare chroot", move |_| {
        let mut cmd = Command::new("unshare");
        cmd.args(["-fpmiun", "--mount-proc", "chroot"])
            .arg(&r)
            .arg("/bin/true");
        cmd
    }));

    // Warm up, then interleave the variants run by run so drift hits all alike.
    for i in 0..WARMUP + RUNS {
        for v in vs.iter_mut() {
            let mut cmd = (v.cmd)(i);
            cmd.stdin(Stdio::null()).stdout(Stdio::null());
            let start = Instant::now();
            let status = cmd.status()?;
            let secs = start.elapsed().as_secs_f64();
            (v.after)(i);
            anyhow::ensure!(status.success(), "{} failed ({status}) on run {i}", v.name);
            if i >= WARMUP {
                v.times.push(secs * 1e3);
            }
        }
    }

    let stat = |name: &str| {
        let v = vs.iter().find(|v| v.name == name).expect("variant");
        let mut t = v.times.clone();
        t.sort_by(|a, b| a.total_cmp(b));
        (pct(&t, 0.5), pct(&t, 0.9))
    };
    let wrapper = if hybrid {
        stat("crun wrapper")
    } else {
        (0.0, 0.0)
    };
    println!("container start, /bin/true: {RUNS} runs each after {WARMUP} warmups, interleaved");
    println!("ch08-security: {} ({profile} profile)", ch08.display());
    if hybrid {
        println!("hybrid cgroups: crun runs in a private mount namespace without {UNIFIED};");
        println!("  \"crun\" below has the wrapper's median subtracted, \"crun (raw)\" does not");
    }
    println!("\n{:<16} {:>10} {:>10}", "runtime", "median", "p90");
    let mut rows: Vec<(String, f64, f64)> = Vec::new();
    for v in &vs {
        let (m, p) = stat(v.name);
        if v.name == "crun" && hybrid {
            rows.push(("crun (raw)".into(), m, p));
            rows.push(("crun".into(), m - wrapper.0, p - wrapper.0));
        } else {
            rows.push((v.name.into(), m, p));
        }
    }
    for (n, m, p) in &rows {
        println!("{n:<16} {m:>8.2}ms {p:>8.2}ms");
    }
    let get = |n: &str| rows.iter().find(|r| r.0 == n).map(|r| r.1).expect("row");
    let (ch, ex, crun, runc) = (get("ch08"), get("ch08 --explain"), get("crun"), get("runc"));
    println!("\nratios of medians");
    println!("  ch08 / crun     {:.2}", ch / crun);
    println!("  ch08 / runc     {:.2}", ch / runc);
    println!("  explain / plain {:.2}", ex / ch);
    println!("\ntargets (issue 8, section 5)");
    let verdict = |ok: bool| if ok { "PASS" } else { "MISS" };
    let t1 = ch <= crun;
    let t2 = ex / ch <= 1.10;
    println!(
        "  {} ch08 median <= crun's: {ch:.2}ms vs {crun:.2}ms (ratio {:.2}, target <= 1.00)",
        verdict(t1),
        ch / crun
    );
    println!(
        "  {} --explain overhead <= 10%: {:+.1}%",
        verdict(t2),
        (ex / ch - 1.0) * 100.0
    );
    if !(t1 && t2) {
        println!(
            "  missed: {}",
            [
                (!t1).then_some("ch08 vs crun"),
                (!t2).then_some("--explain overhead")
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ")
        );
    }

    // Nothing left behind.
    let leftover_mounts: Vec<_> = our_mounts(&t)?
        .difference(&mounts_before)
        .cloned()
        .collect();
    let leftover_cgroups: Vec<_> = cgroup_dirs(&ours)
        .difference(&cgroups_before)
        .cloned()
        .collect();
    let mut leftover_state = Vec::new();
    for rt in ["runc", "crun"] {
        let out = Command::new(rt)
            .arg("--root")
            .arg(t.join(format!("{rt}-state")))
            .args(["list", "-q"])
            .output()?;
        leftover_state.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|l| format!("{rt}: {l}")),
        );
    }
    println!(
        "\nleft behind: {} mounts, {} cgroups, {} runc/crun containers",
        leftover_mounts.len(),
        leftover_cgroups.len(),
        leftover_state.len()
    );
    for l in leftover_mounts
        .iter()
        .chain(&leftover_cgroups)
        .chain(&leftover_state)
    {
        println!("  {l}");
    }
    anyhow::ensure!(
        leftover_mounts.is_empty() && leftover_cgroups.is_empty() && leftover_state.is_empty(),
        "the bench left state behind (listed above)"
    );
    Ok(())
}

fn variant(name: &'static str, cmd: impl Fn(usize) -> Command + 'static) -> Variant {
    Variant {
        name,
        cmd: Box::new(cmd),
        after: Box::new(|_| {}),
        times: Vec::new(),
    }
}

/// `sh -c 'umount /sys/fs/cgroup/unified; SCRIPT'` in a private mount namespace.
fn in_private_ns(script: &str) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(format!("umount {UNIFIED} && {script}"));
    cmd
}

fn pct(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i]
}

fn ch08_binary() -> anyhow::Result<(PathBuf, &'static str)> {
    if let Some(p) = std::env::var_os("WHARF_BENCH_CH08") {
        return Ok((PathBuf::from(p), "chosen by WHARF_BENCH_CH08"));
    }
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    for profile in ["release", "debug"] {
        let p = target.join(profile).join("ch08-security");
        if p.is_file() && target.join(profile).join("wharf").is_file() {
            return Ok((
                p,
                if profile == "release" {
                    "release"
                } else {
                    "debug (dev)"
                },
            ));
        }
    }
    anyhow::bail!("no ch08-security built: run `cargo build --release -p ch08-security -p wharf`")
}

fn sibling(bin: &Path, name: &str) -> PathBuf {
    bin.with_file_name(name)
}

fn run_ok(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd.output()?;
    anyhow::ensure!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

/// An OCI bundle whose config.json is `runc spec`'s with /bin/true, no
/// terminal, the shared rootfs, and ch08's namespaces.
fn make_bundle(bundle: &Path, rootfs: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(bundle)?;
    run_ok(Command::new("runc").args(["spec", "--bundle"]).arg(bundle))?;
    let path = bundle.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
    spec["process"]["args"] = serde_json::json!(["/bin/true"]);
    spec["process"]["terminal"] = serde_json::json!(false);
    spec["root"]["path"] = serde_json::json!(rootfs);
    spec["linux"]["namespaces"] =
        serde_json::json!(["pid", "uts", "ipc", "network", "mount", "cgroup"]
            .iter()
            .map(|t| serde_json::json!({ "type": t }))
            .collect::<Vec<_>>());
    std::fs::write(&path, serde_json::to_vec_pretty(&spec)?)?;
    Ok(())
}

/// Mount points under `dir` or made by ch08 (its state root is inside `dir`).
fn our_mounts(dir: &Path) -> anyhow::Result<BTreeSet<String>> {
    let d = dir.to_string_lossy().into_owned();
    Ok(std::fs::read_to_string("/proc/self/mountinfo")?
        .lines()
        .filter(|l| l.contains(&d))
        .map(String::from)
        .collect())
}

/// ch08's host tag for the state root `dir` (its cgroups carry it).
fn tag_of(dir: &Path) -> String {
    wharf::paths::host_tag_for(dir)
}

/// Cgroup directories up to three levels deep, on every hierarchy, whose
/// path holds one of `tags` (ch08's host tag, the runtimes' id prefix).
fn cgroup_dirs(tags: &[String]) -> BTreeSet<String> {
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
