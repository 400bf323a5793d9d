//! wharf and its peers read each other's images: images written by
//! `skopeo copy` (oci: and docker-archive:) and built with umoci load into
//! wharf and unpack to the same files as `umoci unpack`; images saved by
//! wharf are accepted by `skopeo inspect`/`skopeo copy`, unpacked by umoci
//! and loaded by podman with their config; save -> load -> save is stable.
//! Every image is built here from local files: no network.

mod common;
mod image_support;
use common::*;
use image_support::*;

use std::path::{Path, PathBuf};

/// An image built by umoci in an OCI layout at `layout`, tag `t`: two
/// layers of our sample trees, a whiteout, an opaque dir, and a config.
fn umoci_image(t: &TestRoot) -> PathBuf {
    let layout = t.path().join("umoci-layout");
    let (a, b) = (scratch(t, "ua"), scratch(t, "ub"));
    sample_tree(&a, "umoci");
    std::fs::write(b.join("added"), b"second layer").unwrap();
    std::fs::create_dir_all(b.join("more")).unwrap();
    std::fs::write(b.join("more/file"), vec![b'm'; 10_000]).unwrap();
    let l = layout.to_str().unwrap();
    let image = format!("{l}:t");
    run_ok(peer("umoci").args(["init", "--layout", l]));
    run_ok(peer("umoci").args(["new", "--image", &image]));
    run_ok(peer("umoci").args(["insert", "--image", &image, a.to_str().unwrap(), "/"]));
    run_ok(peer("umoci").args(["insert", "--image", &image, b.to_str().unwrap(), "/opt"]));
    run_ok(peer("umoci").args(["insert", "--image", &image, "--whiteout", "/etc/gone"]));
    run_ok(peer("umoci").args([
        "config",
        "--image",
        &image,
        "--config.env",
        "FROM=umoci",
        "--config.cmd",
        "/bin/tool",
    ]));
    layout
}

/// The ID `wharf load` printed (an image without a name).
fn loaded_id(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("Loaded image ID: "))
        .unwrap_or_else(|| panic!("no image ID in {out:?}"))
        .to_string()
}

#[test]
fn images_from_skopeo_and_umoci_unpack_as_umoci_does() {
    let t = TestRoot::new();
    let layout = umoci_image(&t);
    let src = format!("oci:{}:t", layout.display());
    let oci_copy = t.path().join("skopeo-oci");
    let docker_copy = t.path().join("skopeo-docker.tar");
    run_ok(peer("skopeo").args(["copy", "-q", &src, &format!("oci:{}:t", oci_copy.display())]));
    run_ok(peer("skopeo").args([
        "copy",
        "-q",
        &src,
        &format!("docker-archive:{}:peer/app:t", docker_copy.display()),
    ]));
    let theirs = umoci_rootfs(&t, &format!("{}:t", layout.display()), "umoci-bundle");
    assert!(
        !theirs.join("etc/gone").exists(),
        "umoci applied the whiteout"
    );

    let id = loaded_id(&ok(
        &t.run("wharf", &["load", "-i", oci_copy.to_str().unwrap()])
    ));
    assert_same_files(&wharf_unpack(&t, &id, "from-oci"), &theirs);
    let out = ok(&t.run("wharf", &["load", "-i", docker_copy.to_str().unwrap()]));
    assert!(out.contains("Loaded image: peer/app:t"), "{out}");
    assert_same_files(&wharf_unpack(&t, "peer/app:t", "from-docker"), &theirs);
    let j: serde_json::Value =
        serde_json::from_str(&ok(&t.run("wharf", &["image", "inspect", "peer/app:t"]))).unwrap();
    assert!(
        j[0]["Config"]["Env"].to_string().contains("FROM=umoci"),
        "{j}"
    );
}

/// A two-layer image with a config to carry across: loaded into wharf
/// from a docker-archive made here.
fn wharf_image(t: &TestRoot) -> (Vec<u8>, Vec<u8>) {
    let (a, b) = (scratch(t, "wa"), scratch(t, "wb"));
    sample_tree(&a, "wharf");
    std::fs::write(b.join("top"), b"top layer").unwrap();
    let (l1, l2) = (layer_of(&a), layer_of(&b));
    let config = config_for(&[&l1, &l2]);
    let f = t.path().join("in.tar");
    std::fs::write(
        &f,
        docker_archive(&config, &[&gzip(&l1), &l2], &["interop:1"]),
    )
    .unwrap();
    ok(&t.run("wharf", &["load", "-i", f.to_str().unwrap()]));
    (config, l1)
}

#[test]
fn images_saved_by_wharf_are_read_by_skopeo_umoci_and_podman() {
    let t = TestRoot::new();
    let (config, _) = wharf_image(&t);
    let docker = t.path().join("saved-docker.tar");
    let oci = t.path().join("saved-oci.tar");
    ok(&t.run(
        "wharf",
        &["save", "interop:1", "-o", docker.to_str().unwrap()],
    ));
    ok(&t.run(
        "wharf",
        &[
            "save",
            "interop:1",
            "--format",
            "oci",
            "-o",
            oci.to_str().unwrap(),
        ],
    ));
    let ours = wharf_unpack(&t, "interop:1", "ours");
    let want: serde_json::Value = serde_json::from_slice(&config).unwrap();

    for (i, src) in [
        format!("docker-archive:{}", docker.display()),
        format!("oci-archive:{}:1", oci.display()),
    ]
    .iter()
    .enumerate()
    {
        let cfg: serde_json::Value =
            serde_json::from_str(&run_ok(peer("skopeo").args(["inspect", "--config", src])))
                .unwrap();
        assert_eq!(cfg["config"], want["config"], "{src}");
        assert_eq!(cfg["history"], want["history"], "{src}");
        let layout = t.path().join(format!("copy-{i}"));
        run_ok(peer("skopeo").args(["copy", "-q", src, &format!("oci:{}:x", layout.display())]));
        let theirs = umoci_rootfs(
            &t,
            &format!("{}:x", layout.display()),
            &format!("bundle-{i}"),
        );
        assert_same_files(&ours, &theirs);
    }
    let storage = scratch(&t, "podman");
    let podman = |args: &[&str]| podman_at(&storage, args);
    for f in [&docker, &oci] {
        podman(&["load", "-q", "-i", f.to_str().unwrap()]);
    }
    let j: serde_json::Value =
        serde_json::from_str(&podman(&["image", "inspect", "interop:1"])).unwrap();
    assert_eq!(j[0]["Config"]["Env"], want["config"]["Env"]);
    assert_eq!(j[0]["Config"]["Cmd"], want["config"]["Cmd"]);
    assert_eq!(j[0]["Config"]["WorkingDir"], want["config"]["WorkingDir"]);
    assert_eq!(
        j[0]["Id"].as_str().unwrap(),
        hex_of(&sha256(&config)),
        "podman sees the same config"
    );
    // And back: what podman saves, in both formats, loads into wharf with
    // the same image ID and unpacks to the same files.
    for format in ["docker-archive", "oci-archive"] {
        let out = t.path().join(format!("podman-{format}.tar"));
        podman(&[
            "save",
            "-q",
            "--format",
            format,
            "-o",
            out.to_str().unwrap(),
            "interop:1",
        ]);
        let fresh = scratch(&t, &format!("fresh-{format}"));
        let loaded = wharf_at(
            &t,
            &fresh,
            &["load".as_ref(), "-i".as_ref(), out.as_os_str()],
        );
        assert!(loaded.contains("Loaded image"), "{format}: {loaded}");
        let dir = t.path().join(format!("from-podman-{format}"));
        wharf_at(
            &t,
            &fresh,
            &[
                "image".as_ref(),
                "unpack".as_ref(),
                sha256(&config).as_ref(),
                dir.as_os_str(),
            ],
        );
        assert_same_files(&dir, &ours);
    }
}

#[test]
fn save_then_load_on_a_fresh_store_then_save_gives_the_same_bytes() {
    let t = TestRoot::new();
    wharf_image(&t);
    let tree = scratch(&t, "imported");
    sample_tree(&tree, "second");
    import_tree(&t, &tree, "other:2");
    for format in ["docker-archive", "oci"] {
        let first = t.path().join(format!("first-{format}.tar"));
        let again = t.path().join(format!("again-{format}.tar"));
        let save = |out: &Path| -> Vec<String> {
            let out = out.to_str().unwrap();
            [
                "save",
                "interop:1",
                "other:2",
                "--format",
                format,
                "-o",
                out,
            ]
            .map(String::from)
            .to_vec()
        };
        ok(&t.cmd("wharf").args(save(&first)).output().unwrap());
        let fresh = scratch(&t, &format!("fresh-{format}"));
        let w = |args: Vec<String>| wharf_at(&t, &fresh, &args);
        w(vec![
            "load".into(),
            "-i".into(),
            first.to_str().unwrap().into(),
        ]);
        w(save(&again));
        assert_eq!(members(&first), members(&again), "{format}: members differ");
        assert_eq!(
            std::fs::read(&first).unwrap(),
            std::fs::read(&again).unwrap(),
            "{format}: bytes differ"
        );
    }
}

/// Name -> bytes of every member of a tar.
fn members(p: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let f = std::fs::File::open(p).unwrap();
    let mut ar = tar::Archive::new(f);
    ar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut v).unwrap();
            (name, v)
        })
        .collect()
}
