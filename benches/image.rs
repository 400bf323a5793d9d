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

mod common;
use common::*;

use std::process::Command;

fn main() -> anyhow::Result<()> {
    let rounds: usize = env_or("WHARF_BENCH_ROUNDS", 3);
    let (_tmp, w) = Work::new(
        "image",
        "wharf-bench-image-",
        &["tar", "podman", "umoci", "skopeo"],
    )?;
    let (files, bytes, layer, image) = w.bench_image()?;
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
