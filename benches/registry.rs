//! `wharf push` and `wharf pull` against `podman push/pull` and `skopeo
//! copy`, through a real registry (Debian's docker-registry on a free
//! loopback port, its own config and storage), on the image benches/image.rs
//! builds from the host's /usr (about 450 MB in about 20,000 files;
//! WHARF_BENCH_MB changes the size). One run, side by side, ratios printed
//! with issue 14's target (wharf at least 2x faster than podman), and
//! wharf's peak memory (it streams: it should stay far below the image).
//!
//! Pushes start from the same image in each tool's store, each to a
//! registry of its own; every pull takes the same gzip-compressed copy (the
//! one podman pushed) into a fresh store.
//!
//! Run as root: `cargo bench --bench registry`. Work happens in
//! WHARF_BENCH_DIR (default /var/tmp) and is removed at the end.

mod common;
use common::*;

use std::path::Path;
use std::process::{Child, Command, Stdio};

fn main() -> anyhow::Result<()> {
    let (_tmp, w) = Work::new(
        "registry",
        "wharf-reg-",
        &["tar", "podman", "skopeo", "docker-registry"],
    )?;
    let (files, bytes, _, image) = w.bench_image()?;
    // One registry per pushing tool: none finds the others' blobs there.
    let registries = [
        Registry::start(&w.dir.join("reg-wharf"))?,
        Registry::start(&w.dir.join("reg-podman"))?,
        Registry::start(&w.dir.join("reg-skopeo"))?,
    ];
    let host = &registries[0].host;
    println!(
        "image: one layer of {files} files, {:.0} MB; one run (skopeo copy pulls to an OCI layout: it downloads, it does not unpack)\n",
        bytes as f64 / 1e6
    );

    // The same image in each tool's own store.
    let src = w.fresh("wharf-src")?;
    run(wharf(&src).args(["load", "-q", "-i"]).arg(&image))?;
    let ours = format!("{host}/bench/wharf:1");
    run(wharf(&src).args(["tag", "bench:1", &ours]))?;
    let pod = w.fresh("p1")?;
    run(podman(&pod).args(["load", "-q", "-i"]).arg(&image))?;

    let theirs = format!("{}/bench/podman:1", registries[1].host);
    let push = [
        timed(wharf(&src).args(["push", "-q", &ours]))?,
        timed(podman(&pod).args(["push", "-q", "--tls-verify=false", "bench:1", &theirs]))?,
        timed(
            Command::new("skopeo")
                .args(["copy", "-q", "--dest-tls-verify=false"])
                .arg(format!("docker-archive:{}", image.display()))
                .arg(format!("docker://{}/bench/skopeo:1", registries[2].host)),
        )?,
    ];
    let dst = w.fresh("wharf-dst")?;
    let pod2 = w.fresh("p2")?;
    let pull = [
        timed(wharf(&dst).args(["pull", "-q", &theirs]))?,
        timed(podman(&pod2).args(["pull", "-q", "--tls-verify=false", &theirs]))?,
        timed(
            Command::new("skopeo")
                .args(["copy", "-q", "--src-tls-verify=false"])
                .arg(format!("docker://{theirs}"))
                .arg(format!("oci:{}:t", w.dir.join("skopeo-dst").display())),
        )?,
    ];
    for (verb, t) in [("push", &push), ("pull", &pull)] {
        println!(
            "{:<16} {:>8} {:>10} {:>14}",
            verb, "time", "MB/s", "wharf is"
        );
        for (name, r) in ["wharf", "podman", "skopeo copy"].iter().zip(t.iter()) {
            let vs = if *name == "wharf" {
                "-".to_string()
            } else {
                format!("{:.2}x faster", r.0 / t[0].0)
            };
            println!(
                "{:<16} {:>7.2}s {:>10.0} {vs:>14}",
                format!("{name} {verb}"),
                r.0,
                bytes as f64 / 1e6 / r.0
            );
        }
        let ratio = t[1].0 / t[0].0;
        let verdict = if ratio >= 2.0 { "PASS" } else { "MISS" };
        println!("target: wharf {verb} >= 2x faster than podman {verb}: {ratio:.2}x {verdict}\n");
    }
    println!(
        "peak memory: wharf push {:.1} MB, wharf pull {:.1} MB (podman pull {:.1} MB), for a {:.0} MB image",
        push[0].1 as f64 / 1024.0,
        pull[0].1 as f64 / 1024.0,
        pull[1].1 as f64 / 1024.0,
        bytes as f64 / 1e6
    );
    Ok(())
}

/// docker-registry on a free loopback port, killed when dropped.
struct Registry {
    child: Child,
    host: String,
}

impl Registry {
    fn start(dir: &Path) -> anyhow::Result<Registry> {
        std::fs::create_dir_all(dir)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let host = format!("127.0.0.1:{port}");
        let config = dir.join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {host}\n",
                dir.join("data").display()
            ),
        )?;
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let r = Registry { child, host };
        for _ in 0..400 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(r);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        anyhow::bail!("docker-registry did not listen on {port}")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
