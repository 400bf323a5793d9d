//! Network benchmark: what chapter 09's network costs, side by side with
//! podman's bridge network (netavark) on the same machine.
//!
//! - setup: the median time of `/bin/true` with `--network bridge` minus
//!   the same with `--network none`, for ch09-network and for podman;
//! - throughput: a fixed 512 MiB TCP transfer (wharf-echo's `blast` into
//!   its `sink`) between two containers on one bridge, and from the host to
//!   a published port at 127.0.0.1, for both.
//!
//! Run as root: `cargo bench --bench network` (it runs the built binaries:
//! `cargo build --workspace` first; release builds give fairer numbers).
//! The whole bench runs in a network and mount namespace of its own, so
//! the bridges, rules and traffic of both runtimes never reach the
//! machine's network; podman gets a throwaway --root/--runroot, cgroupfs,
//! runc, and an image imported from wharf's rootfs (no registry needed).
//! Targets (issue 11): throughput within 10% of podman's, setup ≤ podman's.
//! A MISS is printed; the bench still exits 0: it is a measurement.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

const RUNS: usize = 15;
const MIB: usize = 512;
const TRANSFERS: usize = 5;
/// Podman's default network is 10.88.0.0/16 too: ours moves aside.
const SUBNET: &str = "10.89.0.0/16";

fn main() -> anyhow::Result<()> {
    wharf::cli::lesson::require_root("benches/network")?;
    private_namespaces()?;
    let target = std::env::current_exe()?
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .ok_or_else(|| anyhow::anyhow!("no target dir"))?;
    // `cargo bench` runs from target/release; use its binaries if built,
    // else the debug ones.
    let dir = [target.clone(), target.with_file_name("debug")]
        .into_iter()
        .find(|d| d.join("ch09-network").exists() && d.join("wharf-echo").exists())
        .ok_or_else(|| anyhow::anyhow!("build first: cargo build --workspace"))?;
    println!("binaries: {}", dir.display());
    let target = dir;
    let (ch09, echo) = (target.join("ch09-network"), target.join("wharf-echo"));
    let tmp = tempfile::Builder::new()
        .prefix("wharf-bench-net-")
        .tempdir_in("/tmp")?;
    let t = tmp.path().to_path_buf();
    let rootfs = t.join("rootfs");
    ok(Command::new(target.join("wharf"))
        .args(["rootfs", "create", "--with"])
        .arg(&echo)
        .arg(&rootfs)
        .env("WHARF_ROOT", &t))?;
    let e = echo.display().to_string();
    let ours = |args: &[&str]| {
        let mut c = Command::new(&ch09);
        c.env("WHARF_ROOT", &t)
            .args(["--subnet", SUBNET])
            .args(args);
        c
    };
    let podman = podman_with_image(&t, &rootfs)?;
    // Podman's containers (and conmon) get cgroups below a parent of ours.
    let parent = format!("/wharf-bench-net-{}", std::process::id());
    let limits = [
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=4096:4096",
    ];
    let run_flags: Vec<&str> = [&limits[..], &["--cgroup-parent", &parent]].concat();
    let pod = |args: &[&str]| {
        let mut c = podman();
        c.args(["run", "--rm"]).args(&run_flags).args(args);
        c
    };

    // Setup: interleaved, so both see the same machine load.
    let mut times = [vec![], vec![], vec![], vec![]];
    for _ in 0..RUNS {
        times[0].push(timed(&mut ours(&["--network", "none", "--", "/bin/true"]))?);
        times[1].push(timed(&mut ours(&["--", "/bin/true"]))?);
        times[2].push(timed(&mut pod(&[
            "--network",
            "none",
            "wnet:1",
            "/bin/true",
        ]))?);
        times[3].push(timed(&mut pod(&["wnet:1", "/bin/true"]))?);
    }
    let m: Vec<f64> = times.iter_mut().map(|v| median(v)).collect();
    let (our_setup, pod_setup) = (m[1] - m[0], m[3] - m[2]);
    println!("start of /bin/true, median of {RUNS} (ms):");
    println!(
        "  ch09-network  none {:7.1}  bridge {:7.1}  network setup {:6.1}",
        m[0], m[1], our_setup
    );
    println!(
        "  podman        none {:7.1}  bridge {:7.1}  network setup {:6.1}",
        m[2], m[3], pod_setup
    );

    // Throughput between two containers, and host -> published port.
    let mib = MIB.to_string();
    let sink = Reaped(
        ours(&[
            "--hostname",
            "sink",
            "-p",
            "8080:5000",
            "--",
            &e,
            "sink",
            "5000",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?,
    );
    // Once its command runs, the sink has its lease (the first: .2).
    wharf::probe::procs::wait_for_child_comm(sink.0.id(), "wharf-echo")?;
    let from_host = |port: &str| {
        Command::new(&echo)
            .args(["blast", "127.0.0.1", port, &mib])
            .output()
    };
    let name = format!("wnet-sink-{}", std::process::id());
    ok(podman()
        .args(["run", "-d", "--rm", "--name", &name])
        .args(&run_flags)
        .args(["-p", "8081:5000", "wnet:1", &e, "sink", "5000"]))?;
    let ip = String::from_utf8(
        podman()
            .args(["inspect", "-f", "{{.NetworkSettings.IPAddress}}", &name])
            .output()?
            .stdout,
    )?;
    // Both sinks run; the transfers alternate, median of TRANSFERS each.
    let mut rates = [vec![], vec![], vec![], vec![]];
    for _ in 0..TRANSFERS {
        rates[0].push(rate(
            &ours(&["--", &e, "blast", "10.89.0.2", "5000", &mib]).output()?,
        )?);
        rates[1].push(rate(
            &pod(&["wnet:1", &e, "blast", ip.trim(), "5000", &mib]).output()?,
        )?);
        rates[2].push(rate(&from_host("8080")?)?);
        rates[3].push(rate(&from_host("8081")?)?);
    }
    drop(sink);
    let _ = podman().args(["rm", "-f", "-t", "0", &name]).output();
    let r: Vec<f64> = rates.iter_mut().map(|v| median(v)).collect();
    let (ours_c2c, pod_c2c, ours_pub, pod_pub) = (r[0], r[1], r[2], r[3]);
    println!("TCP throughput, {MIB} MiB, median of {TRANSFERS} (MiB/s):");
    println!("  container -> container   ch09 {ours_c2c:8.1}   podman {pod_c2c:8.1}");
    println!("  host -> published port   ch09 {ours_pub:8.1}   podman {pod_pub:8.1}");
    let verdict = |pass: bool| if pass { "PASS" } else { "MISS" };
    println!("targets (issue 11):");
    println!(
        "  {} throughput between containers within 10% of podman's",
        verdict(ours_c2c >= 0.9 * pod_c2c)
    );
    println!(
        "  {} throughput to a published port within 10% of podman's",
        verdict(ours_pub >= 0.9 * pod_pub)
    );
    println!(
        "  {} network setup time <= podman's",
        verdict(our_setup <= pod_setup)
    );
    let _ = podman().args(["system", "reset", "-f"]).output();
    remove_cgroups(&parent);
    Ok(())
}

/// Remove the (now empty) cgroup `parent` and what is below it, on every
/// hierarchy, children first.
fn remove_cgroups(parent: &str) {
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    for h in hierarchies.flatten() {
        let mut dirs = vec![];
        let mut walk = vec![h.path().join(parent.trim_start_matches('/'))];
        while let Some(d) = walk.pop() {
            if let Ok(rd) = std::fs::read_dir(&d) {
                walk.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
                dirs.push(d);
            }
        }
        for d in dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// A network namespace (lo up) and a private mount namespace for the
/// whole bench: whatever either runtime makes stays in them.
fn private_namespaces() -> anyhow::Result<()> {
    use nix::sched::CloneFlags;
    nix::sched::unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWNS)?;
    let flags = nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE;
    nix::mount::mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)?;
    ok(Command::new("ip").args(["link", "set", "lo", "up"]))
}

/// A podman command with its own store, and the image `wnet:1` imported
/// from the rootfs.
fn podman_with_image(t: &Path, rootfs: &Path) -> anyhow::Result<impl Fn() -> Command> {
    let (root, run) = (t.join("podman-root"), t.join("podman-run"));
    let podman = move || {
        let mut c = Command::new("podman");
        c.arg("--root").arg(&root).arg("--runroot").arg(&run);
        c.args([
            "--cgroup-manager",
            "cgroupfs",
            "--runtime",
            "runc",
            "--network-backend",
            "netavark",
        ]);
        c
    };
    let tar: PathBuf = t.join("rootfs.tar");
    ok(Command::new("tar")
        .arg("-C")
        .arg(rootfs)
        .arg("-cf")
        .arg(&tar)
        .arg("."))?;
    ok(podman().arg("import").arg(&tar).arg("wnet:1"))?;
    Ok(podman)
}

fn ok(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd.stdout(Stdio::null()).output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    anyhow::ensure!(out.status.success(), "{cmd:?}: {}", err.trim());
    Ok(())
}

/// Wall time of one run, in ms; a failed run fails the bench.
fn timed(cmd: &mut Command) -> anyhow::Result<f64> {
    let t = Instant::now();
    ok(cmd)?;
    Ok(t.elapsed().as_secs_f64() * 1000.0)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The MiB/s a `wharf-echo blast` printed.
fn rate(out: &std::process::Output) -> anyhow::Result<f64> {
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().parse().map_err(|_| {
        anyhow::anyhow!(
            "blast said {text:?} {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })
}

/// A container left running, killed and reaped when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
