//! Container start latency: chapter 08's container against crun and runc
//! on the same rootfs, running /bin/true, side by side in one run.
//!
//! Run as root: `cargo bench --bench container` (temp dir in /dev/shm;
//! `WHARF_BENCH_TMP=DIR` puts it elsewhere). It runs the binaries, so it
//! measures whatever ch08-security is built: `target/release/ch08-security`
//! if present (build it with `cargo build --release -p ch08-security -p wharf`),
//! else `target/debug/ch08-security`; `WHARF_BENCH_CH08_SECURITY=PATH` picks
//! one. The profile used is printed. Everything lives in a temp dir
//! (WHARF_ROOT, the bundle, runc's and crun's --root); every container gets
//! a unique id and is deleted; the bench checks that no mount, cgroup or
//! runc state is left. On a hybrid host crun runs through `unshare -m sh -c
//! 'umount /sys/fs/cgroup/unified; exec crun ...'` (see benches/common), and
//! that wrapper's own cost (same wrapper, `exec /bin/true`) is measured and
//! subtracted. Rounds are interleaved with a rotating order after warm-ups;
//! the `--explain` overhead is the median of the per-round ratios, so
//! drift between rounds cancels. A MISS of the targets is printed,
//! and the bench still exits 0: it is a measurement.

mod common;

use std::process::{Command, Stdio};

use common::{Runtime, Variant};

const WARMUP: usize = 5;
const RUNS: usize = 40;

fn main() -> anyhow::Result<()> {
    wharf::cli::lesson::require_root("benches/container")?;
    let (ch08, profile) = common::built("ch08-security")?;
    let (wharf_bin, _) = common::built("wharf")?;
    // ch08's namespaces, so every runtime builds the same container.
    let (tmp, bundle) = common::bundle(&wharf_bin, |spec| {
        spec["linux"]["namespaces"] =
            serde_json::json!(["pid", "uts", "ipc", "network", "mount", "cgroup"]
                .iter()
                .map(|t| serde_json::json!({ "type": t }))
                .collect::<Vec<_>>());
    })?;
    let t = tmp.path().to_path_buf();
    println!(
        "temp dir (state roots, bundle, WHARF_ROOT): {}",
        t.display()
    );
    let rootfs = t.join("rootfs");
    let tag = format!("wb{}", std::process::id());
    let left = common::Leftovers::before(&t, vec![wharf::paths::host_tag_for(&t), tag.clone()])?;

    let ch08_cmd = |explain: bool| {
        let (c, w) = (ch08.clone(), t.clone());
        move |_| {
            let mut cmd = Command::new(&c);
            // stderr to /dev/null in both, so they differ only in the flag.
            cmd.args(explain.then_some("--explain"))
                .args(["--", "/bin/true"])
                .env("WHARF_ROOT", &w)
                .stderr(Stdio::null());
            cmd
        }
    };
    let peers = [Runtime::peer("runc", &t), Runtime::peer("crun", &t)];
    let mut vs: Vec<Variant> = vec![
        common::variant("ch08", ch08_cmd(false)),
        common::variant("ch08 --explain", ch08_cmd(true)),
    ];
    for rt in &peers {
        let name = if rt.wrap { "crun (raw)" } else { rt.name };
        vs.push(rt.run_variant(name, &bundle, &tag));
    }
    let wrapper = common::hybrid().then_some("crun wrapper");
    if let Some(w) = wrapper {
        vs.push(common::variant(w, |_| {
            common::in_private_ns("exec /bin/true")
        }));
    }
    vs.push(common::variant("unshare chroot", move |_| {
        let mut cmd = Command::new("unshare");
        cmd.args(["-fpmiun", "--mount-proc", "chroot"])
            .arg(&rootfs)
            .arg("/bin/true");
        cmd
    }));
    common::measure(&mut vs, WARMUP, RUNS)?;

    println!("container start, /bin/true: {RUNS} rounds after {WARMUP} warm-ups, interleaved in rotating order");
    println!("ch08-security: {} ({profile})", ch08.display());
    if wrapper.is_some() {
        println!(
            "hybrid cgroups: crun runs in a private mount namespace without {};",
            common::UNIFIED
        );
        println!("  \"crun\" has the wrapper's median subtracted, \"crun (raw)\" does not");
    }
    let rows = common::print_table(&vs, wrapper);
    let get = |n: &str| common::median_of(&rows, n);
    let (ch, crun, runc) = (get("ch08"), get("crun"), get("runc"));
    let explain = common::paired_ratio(&vs, "ch08 --explain", "ch08");
    println!("\nratios of medians");
    println!("  ch08 / crun     {:.2}", ch / crun);
    println!("  ch08 / runc     {:.2}", ch / runc);
    println!(
        "  explain / plain {:.2} (median of per-round ratios; of medians: {:.2})",
        explain,
        get("ch08 --explain") / ch
    );
    println!("\ntargets (issue 8, section 5)");
    let t1 = ch <= crun;
    let t2 = explain <= 1.10;
    println!(
        "  {} ch08 median <= crun's: {ch:.2}ms vs {crun:.2}ms (ratio {:.2}, target <= 1.00)",
        common::verdict(t1),
        ch / crun
    );
    println!(
        "  {} --explain overhead <= 10%: {:+.1}%",
        common::verdict(t2),
        (explain - 1.0) * 100.0
    );
    left.check(&peers)
}
