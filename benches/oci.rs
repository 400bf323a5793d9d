//! wharf-oci against crun and runc behind runc's command line: `run` on
//! one bundle (the config.json that `runc spec` writes, args /bin/true,
//! no terminal), `podman run --rm` with each of the three as --runtime,
//! and the resident memory of the runtime's process that waits at
//! `create` for `start` (issue 9's benchmarks).
//!
//! Run as root: `cargo bench --bench oci` (temp dir in /dev/shm;
//! `WHARF_BENCH_TMP=DIR` puts it elsewhere). It measures the wharf-oci that
//! is built (`target/release/wharf-oci` if present, else debug;
//! `WHARF_BENCH_WHARF_OCI=PATH` picks one). Everything lives in a temp dir:
//! the bundle, each runtime's --root, podman's root, runroot and config
//! (cgroupfs, no network, `--ulimit nofile=1024:1024`, an image made by
//! `podman import` of the bundle's rootfs). On a hybrid host crun runs in
//! a private mount namespace without /sys/fs/cgroup/unified and that
//! wrapper's cost is measured and subtracted; podman runs in such a
//! namespace with every runtime, so its three rows differ only in the
//! runtime. Rounds interleave with a rotating order after warm-ups (see
//! benches/common). A MISS is printed; the bench still exits 0.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{Runtime, Variant};

const WARMUP: usize = 5;
const RUNS: usize = 40;
const PODMAN_WARMUP: usize = 2;
const PODMAN_RUNS: usize = 12;
const RSS_SAMPLES: usize = 5;
const IMAGE: &str = "localhost/wharf-bench:1";

fn main() -> anyhow::Result<()> {
    wharf::cli::lesson::require_root("benches/oci")?;
    let (wharf_oci, profile) = common::built("wharf-oci")?;
    let (wharf_bin, _) = common::built("wharf")?;
    let (tmp, bundle) = common::bundle(&wharf_bin, |_| {})?;
    let t = tmp.path().to_path_buf();
    println!(
        "temp dir (state roots, bundle, WHARF_ROOT): {}",
        t.display()
    );
    let tag = format!("wb{}", std::process::id());
    let host_tag = wharf::paths::host_tag_for(&t);
    let left = common::Leftovers::before(&t, vec![host_tag.clone(), tag.clone()])?;

    let ours = Runtime {
        name: "wharf-oci",
        program: wharf_oci.clone(),
        state: t.join("wharf-oci-state"),
        env: vec![("WHARF_ROOT".into(), t.clone())],
        wrap: false,
    };
    let runtimes = [ours, Runtime::peer("crun", &t), Runtime::peer("runc", &t)];
    let mut vs: Vec<Variant> = runtimes
        .iter()
        .map(|rt| {
            let name = if rt.wrap { "crun (raw)" } else { rt.name };
            rt.run_variant(name, &bundle, &tag)
        })
        .collect();
    let wrapper = common::hybrid().then_some("crun wrapper");
    if let Some(w) = wrapper {
        vs.push(common::variant(w, |_| {
            common::in_private_ns("exec /bin/true")
        }));
    }
    common::measure(&mut vs, WARMUP, RUNS)?;

    let podman = Podman::new(&t, &host_tag)?;
    let mut pvs: Vec<Variant> = runtimes.iter().map(|rt| podman.run_variant(rt)).collect();
    let measured = common::measure(&mut pvs, PODMAN_WARMUP, PODMAN_RUNS);
    podman.clean(&runtimes);
    measured?;

    let rss: Vec<(&str, f64)> = runtimes
        .iter()
        .map(|rt| Ok((rt.name, rss_at_create(rt, &bundle, &tag)?)))
        .collect::<anyhow::Result<_>>()?;

    println!("OCI runtimes, /bin/true: `run` {RUNS} rounds after {WARMUP} warm-ups, podman {PODMAN_RUNS} after {PODMAN_WARMUP}; interleaved in rotating order");
    println!("wharf-oci: {} ({profile})", wharf_oci.display());
    if wrapper.is_some() {
        println!("hybrid cgroups: crun (and podman, with each runtime) runs in a private mount namespace without {}", common::UNIFIED);
    }
    let rows = common::print_table(&vs, wrapper);
    let prow = common::print_table(&pvs, None);
    let get = |n: &str| common::median_of(&rows, n);
    let pget = |n: &str| common::median_of(&prow, &format!("podman+{n}"));
    let (w, crun, runc) = (get("wharf-oci"), get("crun"), get("runc"));
    let (pw, pcrun, prunc) = (pget("wharf-oci"), pget("crun"), pget("runc"));
    println!(
        "\nresident memory of the process waiting at `create` (VmRSS, median of {RSS_SAMPLES})"
    );
    for (name, kb) in &rss {
        println!("  {name:<10} {:>8.0} kB", kb);
    }
    println!("\nratios of medians");
    println!("  wharf-oci / crun                {:.2}", w / crun);
    println!("  wharf-oci / runc                {:.2}", w / runc);
    println!(
        "  podman+wharf-oci / podman+crun  {:.2} (median of per-round ratios: {:.2})",
        pw / pcrun,
        common::paired_ratio(&pvs, "podman+wharf-oci", "podman+crun")
    );
    println!("  podman+wharf-oci / podman+runc  {:.2}", pw / prunc);
    println!("\ntargets (issue 9, benchmarks)");
    println!(
        "  {} wharf-oci run median <= crun's: {w:.2}ms vs {crun:.2}ms (ratio {:.2})",
        common::verdict(w <= crun),
        w / crun
    );
    println!(
        "  {} podman+wharf-oci <= podman+crun: {pw:.1}ms vs {pcrun:.1}ms (ratio {:.2})",
        common::verdict(pw <= pcrun),
        pw / pcrun
    );
    left.check(&runtimes)
}

/// `create`, then the waiting process's VmRSS (the state's pid: runc's
/// `runc init`, crun's child, wharf-oci's init), then `delete`.
fn rss_at_create(rt: &Runtime, bundle: &Path, tag: &str) -> anyhow::Result<f64> {
    let mut kb = Vec::new();
    for i in 0..RSS_SAMPLES {
        let id = format!("{}-rss", rt.id(tag, i));
        // The init keeps the stdio it is given: a pipe here would never
        // reach EOF while it waits.
        let created = rt
            .cmd(&format!("create --bundle {} {id}", bundle.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        anyhow::ensure!(created.success(), "{} create failed ({created})", rt.name);
        let rss = vm_rss_of(rt, &id);
        rt.delete(&id);
        kb.push(rss?);
    }
    Ok(common::quantile(&kb, 0.5))
}

fn vm_rss_of(rt: &Runtime, id: &str) -> anyhow::Result<f64> {
    let out = rt.cmd(&format!("state {id}")).output()?;
    let state: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let pid = state["pid"]
        .as_i64()
        .ok_or_else(|| anyhow::anyhow!("{}: state has no pid", rt.name))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("{}: no VmRSS for pid {pid}", rt.name))
}

/// podman with a throwaway root, runroot and config, and the rootfs
/// imported as an image.
struct Podman {
    dir: PathBuf,
    cgroup_parent: String,
}

impl Podman {
    fn new(t: &Path, host_tag: &str) -> anyhow::Result<Podman> {
        let dir = t.join("podman");
        std::fs::create_dir_all(&dir)?;
        let d = dir.display();
        std::fs::write(
            dir.join("containers.conf"),
            format!(
                "[engine]\ntmp_dir = \"{d}/tmp\"\nstatic_dir = \"{d}/libpod\"\nvolume_path = \"{d}/volumes\"\n\
                 lock_type = \"file\"\nevents_logger = \"file\"\nevents_logfile_path = \"{d}/events.log\"\n\
                 cgroup_manager = \"cgroupfs\"\n[network]\nnetwork_config_dir = \"{d}/net\"\n"
            ),
        )?;
        std::fs::write(
            dir.join("storage.conf"),
            format!("[storage]\ndriver = \"vfs\"\nrunroot = \"{d}/runroot\"\ngraphroot = \"{d}/root\"\n"),
        )?;
        let p = Podman {
            dir,
            cgroup_parent: format!("/{host_tag}-podman"),
        };
        let tar = t.join("rootfs.tar");
        common::run_ok(
            Command::new("tar")
                .arg("-C")
                .arg(t.join("rootfs"))
                .arg("-cf")
                .arg(&tar)
                .arg("."),
        )?;
        common::run_ok(&mut p.cmd(&format!("import {} {IMAGE}", tar.display()), None))?;
        Ok(p)
    }

    /// `podman ARGS`, with `rt` as --runtime (a wrapper that gives it its
    /// state root: conmon's exit command drops --runtime-flag).
    fn cmd(&self, args: &str, rt: Option<&Runtime>) -> Command {
        let d = self.dir.display();
        let runtime = rt
            .map(|rt| format!("--runtime {}", self.dir.join(rt.name).display()))
            .unwrap_or_default();
        let line = format!("exec podman --root {d}/root --runroot {d}/runroot --cgroup-manager cgroupfs {runtime} {args}");
        let mut cmd = if common::hybrid() {
            common::in_private_ns(&line)
        } else {
            let mut c = Command::new("sh");
            c.args(["-c", &line]);
            c
        };
        cmd.env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", self.dir.join("storage.conf"));
        if let Some(rt) = rt {
            cmd.envs(rt.env.iter().map(|(k, v)| (k, v)));
        }
        cmd
    }

    fn run_variant(&self, rt: &Runtime) -> Variant {
        let wrapper = self.dir.join(rt.name);
        let env: String = rt
            .env
            .iter()
            .map(|(k, v)| format!("{k}={} ", v.display()))
            .collect();
        let script = format!(
            "#!/bin/sh\n{env}exec {} --root {} \"$@\"\n",
            rt.program.display(),
            rt.state.display()
        );
        std::fs::write(&wrapper, script).expect("runtime wrapper");
        std::fs::set_permissions(
            &wrapper,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
        let args = format!(
            "run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --cgroup-parent {} {IMAGE} /bin/true",
            self.cgroup_parent
        );
        let cmd = self.cmd(&args, Some(rt));
        let (prog, argv, envs): (_, Vec<_>, Vec<_>) = (
            cmd.get_program().to_owned(),
            cmd.get_args().map(|a| a.to_owned()).collect(),
            cmd.get_envs()
                .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned())))
                .collect(),
        );
        common::variant(&format!("podman+{}", rt.name), move |_| {
            let mut c = Command::new(&prog);
            c.args(&argv).envs(envs.iter().map(|(k, v)| (k, v)));
            c
        })
    }

    /// Whatever podman still holds, the runtimes' leftovers, and the
    /// cgroup parent (deepest first, in every hierarchy).
    fn clean(&self, runtimes: &[Runtime]) {
        let _ = self.cmd("rm --all --force --time 0", None).output();
        for rt in runtimes {
            for id in rt.list() {
                if let Some((_, id)) = id.split_once(": ") {
                    rt.delete(id);
                }
            }
        }
        let name = self.cgroup_parent.trim_start_matches('/').to_string();
        let mut dirs: Vec<String> = common::cgroup_dirs(&[name]).into_iter().collect();
        dirs.sort_by_key(|d| std::cmp::Reverse(d.len()));
        for d in dirs {
            let _ = std::fs::remove_dir(d);
        }
    }
}
