//! The image store judged from the disk: import, tags, rmi and prune,
//! history and inspect, `--root`, sharing of layers, recovery from an
//! interrupted command, and the lock between concurrent commands.

mod common;
mod image_support;
use common::*;
use image_support::*;

use std::os::unix::fs::{MetadataExt, PermissionsExt};

fn images_json(t: &TestRoot) -> Vec<serde_json::Value> {
    ok(&t.run("wharf", &["images", "--format", "json"]))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn inspect(t: &TestRoot, name: &str) -> serde_json::Value {
    let out = ok(&t.run("wharf", &["image", "inspect", name]));
    serde_json::from_str::<serde_json::Value>(&out).unwrap()[0].clone()
}

#[test]
fn import_makes_a_one_layer_image_with_its_changes() {
    let t = TestRoot::new();
    let tree = scratch(&t, "tree");
    sample_tree(&tree, "a");
    let layer = layer_of(&tree);
    for (name, bytes) in [
        ("plain", layer.clone()),
        ("gz", gzip(&layer)),
        ("zst", zstd(&layer)),
    ] {
        let f = t.path().join(format!("{name}.tar"));
        std::fs::write(&f, &bytes).unwrap();
        let out = ok(&t.run(
            "wharf",
            &[
                "import",
                f.to_str().unwrap(),
                &format!("app:{name}"),
                "--change",
                r#"CMD ["/bin/tool", "-v"]"#,
                "-c",
                "ENV A=1 B=2",
                "-c",
                "WORKDIR /srv",
                "-m",
                "made here",
            ],
        ));
        let id = out.trim();
        let j = inspect(&t, &format!("app:{name}"));
        assert_eq!(j["Id"], id);
        assert_eq!(j["RepoTags"][0], format!("app:{name}"));
        assert_eq!(j["Config"]["Cmd"], serde_json::json!(["/bin/tool", "-v"]));
        assert_eq!(j["Config"]["Env"], serde_json::json!(["A=1", "B=2"]));
        assert_eq!(j["Config"]["WorkingDir"], "/srv");
        assert_eq!(j["Comment"], "made here");
        // The DiffID is the uncompressed tar's digest whatever came in.
        assert_eq!(j["RootFS"]["Layers"], serde_json::json!([sha256(&layer)]));
        // The blob is stored as given, named by its own digest.
        let blob = t
            .path()
            .join("images/blobs/sha256")
            .join(hex_of(&sha256(&bytes)));
        assert_eq!(std::fs::read(&blob).unwrap(), bytes);
    }
    // One DiffID, one ChainID: the three images share one unpacked layer.
    let layers: Vec<_> = std::fs::read_dir(t.path().join("images/layers"))
        .unwrap()
        .collect();
    assert_eq!(layers.len(), 1);
    let layer_dir = t.path().join("images/layers").join(hex_of(&sha256(&layer)));
    let suid = std::fs::metadata(layer_dir.join("bin/suid")).unwrap();
    assert_eq!(suid.mode() & 0o7777, 0o4755, "setuid kept in the store");
    let cap = rustix::fs::lgetxattr(
        layer_dir.join("bin/tool"),
        "security.capability",
        &mut [0u8; 64],
    );
    assert!(cap.is_ok(), "file capability kept in the store");
    // ...where only root can reach them.
    let mode = std::fs::metadata(t.path().join("images/layers"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn tags_move_and_rmi_removes_only_what_nothing_else_uses() {
    let t = TestRoot::new();
    let (a, b) = (scratch(&t, "a"), scratch(&t, "b"));
    sample_tree(&a, "a");
    sample_tree(&b, "b");
    import_tree(&t, &a, "one:1");
    import_tree(&t, &b, "two");
    ok(&t.run("wharf", &["tag", "one:1", "localhost:5000/team/one:v2"]));
    let rows = images_json(&t);
    let names: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                r["Repository"].as_str().unwrap(),
                r["Tag"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        names.contains(&"localhost:5000/team/one:v2".to_string()),
        "{names:?}"
    );
    assert!(names.contains(&"two:latest".to_string()), "{names:?}");
    let one_id = inspect(&t, "one:1")["Id"].as_str().unwrap().to_string();
    // By ID with two names: refused without -f.
    refused(&t, &["rmi", &one_id], &["must be forced"]);
    // By name: only the name goes while another remains.
    let out = ok(&t.run("wharf", &["rmi", "one:1"]));
    assert_eq!(out, "Untagged: one:1\n");
    let blobs_before = count(&t.path().join("images/blobs/sha256"));
    let out = ok(&t.run("wharf", &["rmi", "localhost:5000/team/one:v2"]));
    assert!(out.contains(&format!("Deleted: {one_id}")), "{out}");
    // Its config, manifest and layer blob are gone; two's remain.
    let blobs_after = count(&t.path().join("images/blobs/sha256"));
    assert_eq!(blobs_before - blobs_after, 3);
    assert!(!t
        .path()
        .join("images/blobs/sha256")
        .join(hex_of(&one_id))
        .exists());
    assert_eq!(count(&t.path().join("images/layers")), 1);
    assert_eq!(ok(&t.run("wharf", &["images", "-q"])).lines().count(), 1);
    refused(&t, &["rmi", "one:1"], &["no such image", "one:1"]);
}

#[test]
fn prune_removes_dangling_images_and_their_blobs() {
    let t = TestRoot::new();
    let (a, b) = (scratch(&t, "a"), scratch(&t, "b"));
    sample_tree(&a, "a");
    sample_tree(&b, "b");
    import_tree(&t, &a, "app");
    // Re-using the name leaves the first image without one: dangling.
    import_tree(&t, &b, "app");
    let rows = images_json(&t);
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().any(|r| r["Repository"] == "<none>"));
    let out = ok(&t.run("wharf", &["image", "prune"]));
    assert!(out.contains("Deleted: sha256:"), "{out}");
    assert!(out.contains("Total reclaimed space"), "{out}");
    let rows = images_json(&t);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["Repository"], "app");
    assert_eq!(count(&t.path().join("images/layers")), 1);
    ok(&t.run("wharf", &["image", "prune", "-a"]));
    assert!(images_json(&t).is_empty());
    assert_eq!(count(&t.path().join("images/blobs/sha256")), 0);
}

#[test]
fn history_and_inspect_show_the_config() {
    let t = TestRoot::new();
    let (a, b) = (scratch(&t, "a"), scratch(&t, "b"));
    sample_tree(&a, "a");
    std::fs::write(b.join("added"), vec![b'y'; 5000]).unwrap();
    let (l1, l2) = (layer_of(&a), layer_of(&b));
    let config = config_for(&[&l1, &l2]);
    let f = t.path().join("img.tar");
    std::fs::write(&f, docker_archive(&config, &[&l1, &l2], &["hist:1"])).unwrap();
    ok(&t.run("wharf", &["load", "-i", f.to_str().unwrap()]));
    let h = ok(&t.run("wharf", &["history", "hist:1"]));
    let lines: Vec<&str> = h.lines().collect();
    assert!(lines[0].contains("CREATED BY"), "{h}");
    // Newest first; the top row carries the image ID, sizes from disk.
    assert!(
        lines[1].contains("step 1") && lines[1].contains("5kB"),
        "{h}"
    );
    assert!(
        lines[2].contains("step 0") && lines[2].contains("<missing>"),
        "{h}"
    );
    let j = inspect(&t, "hist:1");
    assert_eq!(j["Id"], sha256(&config));
    assert_eq!(j["Config"]["Env"], serde_json::json!(["PATH=/bin", "A=1"]));
    assert_eq!(
        j["RootFS"]["Layers"],
        serde_json::json!([sha256(&l1), sha256(&l2)])
    );
    assert!(j["RepoDigests"][0]
        .as_str()
        .unwrap()
        .starts_with("hist@sha256:"));
    assert!(j["Size"].as_u64().unwrap() > 200_000);
    // An ID prefix finds it too.
    let prefix = &hex_of(j["Id"].as_str().unwrap())[..8];
    assert_eq!(inspect(&t, prefix)["Id"], j["Id"]);
}

#[test]
fn root_flag_and_environment_choose_the_store() {
    let t = TestRoot::new();
    let other = scratch(&t, "other-root");
    let a = scratch(&t, "a");
    sample_tree(&a, "a");
    let tar = t.path().join("a.tar");
    std::fs::write(&tar, layer_of(&a)).unwrap();
    ok(&t.run(
        "wharf",
        &[
            "--root",
            other.to_str().unwrap(),
            "import",
            tar.to_str().unwrap(),
            "x",
        ],
    ));
    assert!(other.join("images/index.json").is_file());
    assert!(!t.path().join("images/index.json").exists());
    let listed = ok(&t.run(
        "wharf",
        &["images", "--root", other.to_str().unwrap(), "-q"],
    ));
    assert_eq!(listed.lines().count(), 1);
}

#[test]
fn leftovers_of_an_interrupted_command_are_cleaned_by_the_next() {
    let t = TestRoot::new();
    let a = scratch(&t, "a");
    sample_tree(&a, "a");
    import_tree(&t, &a, "keep");
    let before = store_picture(t.path());
    // What a killed load leaves: work under tmp/, a blob and an unpacked
    // layer that no index entry names.
    let store = t.path().join("images");
    std::fs::create_dir_all(store.join("tmp/job-999/layer-0/etc")).unwrap();
    let orphan = sha256(b"orphan");
    std::fs::write(store.join("blobs/sha256").join(hex_of(&orphan)), b"orphan").unwrap();
    std::fs::create_dir_all(store.join("layers").join(hex_of(&orphan)).join("usr")).unwrap();
    // A reader does not touch them...
    ok(&t.run("wharf", &["images"]));
    assert!(store.join("tmp/job-999").exists());
    // ...the next command that changes the store removes them.
    ok(&t.run("wharf", &["tag", "keep", "keep:again"]));
    assert!(!store.join("tmp/job-999").exists());
    assert!(!store.join("blobs/sha256").join(hex_of(&orphan)).exists());
    assert!(!store.join("layers").join(hex_of(&orphan)).exists());
    let mut after = store_picture(t.path());
    after.remove(std::path::Path::new("tags.json"));
    let mut before = before;
    before.remove(std::path::Path::new("tags.json"));
    assert_eq!(before, after);
}

#[test]
fn concurrent_loads_and_tags_leave_a_consistent_store() {
    let t = TestRoot::new();
    let mut archives = Vec::new();
    for i in 0..4 {
        let d = scratch(&t, &format!("t{i}"));
        sample_tree(&d, &format!("v{i}"));
        let l = layer_of(&d);
        let f = t.path().join(format!("a{i}.tar"));
        std::fs::write(
            &f,
            docker_archive(&config_for(&[&l]), &[&l], &[&format!("c{i}:x")]),
        )
        .unwrap();
        archives.push(f);
    }
    let children: Vec<_> = archives
        .iter()
        .map(|f| {
            t.cmd("wharf")
                .args(["load", "-i", f.to_str().unwrap()])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .map(Reaped)
        .collect();
    for mut c in children {
        assert!(c.0.wait().unwrap().success());
    }
    let tags: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.path().join("images/tags.json")).unwrap()).unwrap();
    assert_eq!(tags.as_object().unwrap().len(), 4, "a tag was lost: {tags}");
    assert_eq!(images_json(&t).len(), 4);
    assert_eq!(count(&t.path().join("images/tmp")), 0);
}

#[test]
fn a_second_image_on_a_shared_base_writes_only_its_own_layer() {
    let t = TestRoot::new();
    let (a, b) = (scratch(&t, "base"), scratch(&t, "top"));
    sample_tree(&a, "base");
    std::fs::write(b.join("app"), b"the app").unwrap();
    let (base, top) = (layer_of(&a), layer_of(&b));
    let f1 = t.path().join("base.tar");
    std::fs::write(
        &f1,
        docker_archive(&config_for(&[&base]), &[&base], &["base"]),
    )
    .unwrap();
    let f2 = t.path().join("app.tar");
    std::fs::write(
        &f2,
        docker_archive(&config_for(&[&base, &top]), &[&base, &top], &["app"]),
    )
    .unwrap();
    ok(&t.run("wharf", &["load", "-i", f1.to_str().unwrap()]));
    let base_blob = t
        .path()
        .join("images/blobs/sha256")
        .join(hex_of(&sha256(&base)));
    let ino = std::fs::metadata(&base_blob).unwrap().ino();
    ok(&t.run("wharf", &["load", "-i", f2.to_str().unwrap()]));
    // The base's blob and unpacked layer were not written again.
    assert_eq!(std::fs::metadata(&base_blob).unwrap().ino(), ino);
    assert_eq!(count(&t.path().join("images/layers")), 2);
    let blobs: u64 = std::fs::read_dir(t.path().join("images/blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    let configs_and_manifests = 6_000;
    assert!(
        blobs < (base.len() + top.len()) as u64 + configs_and_manifests,
        "base stored twice: {blobs}"
    );
    // Saved together, the two images share the base in the file too.
    let both = t.path().join("both.tar");
    ok(&t.run(
        "wharf",
        &["save", "base", "app", "-o", both.to_str().unwrap()],
    ));
    let mut ar = tar::Archive::new(std::fs::File::open(&both).unwrap());
    let layers: Vec<String> = ar
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .filter(|p| p.ends_with(".tar"))
        .collect();
    assert_eq!(layers.len(), 2, "{layers:?}");
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::process::Command::new("tar")
            .args(["-xOf", both.to_str().unwrap(), "manifest.json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(
        manifest[0]["Layers"][0], manifest[1]["Layers"][0],
        "{manifest}"
    );
}

#[test]
fn load_and_import_read_stdin() {
    let t = TestRoot::new();
    let tree = scratch(&t, "tree");
    sample_tree(&tree, "stdin");
    let layer = layer_of(&tree);
    let feed = |args: &[&str], input: Vec<u8>| {
        use std::io::Write;
        let mut c = t
            .cmd("wharf")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = c.stdin.take().unwrap();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let out = c.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        ok(&out)
    };
    let id = feed(&["import", "-", "piped:gz"], gzip(&layer));
    assert_eq!(inspect(&t, "piped:gz")["Id"], id.trim());
    // A docker-archive on stdin, itself gzipped as `docker save | gzip` makes it.
    let archive = docker_archive(&config_for(&[&layer]), &[&layer], &["piped:archive"]);
    let out = feed(&["load"], gzip(&archive));
    assert_eq!(out, "Loaded image: piped:archive\n");
    assert_eq!(count(&t.path().join("images/tmp")), 0);
}

#[test]
fn images_columns_follow_docker() {
    let t = TestRoot::new();
    let tree = scratch(&t, "tree");
    sample_tree(&tree, "cols");
    import_tree(&t, &tree, "cols:1");
    let j = inspect(&t, "cols:1");
    let id = j["Id"].as_str().unwrap();
    let table = ok(&t.run("wharf", &["images"]));
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap()
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(header, ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]);
    assert!(
        table.contains(&hex_of(id)[..12]) && !table.contains(hex_of(id)),
        "{table}"
    );
    let full = ok(&t.run("wharf", &["images", "--no-trunc", "--digests"]));
    assert!(full.lines().next().unwrap().contains("DIGEST"), "{full}");
    assert!(full.contains(id), "{full}");
    assert!(
        full.contains(j["Metadata"]["ManifestDigest"].as_str().unwrap()),
        "{full}"
    );
    assert_eq!(
        ok(&t.run("wharf", &["images", "-q"])).trim(),
        &hex_of(id)[..12]
    );
    assert_eq!(ok(&t.run("wharf", &["images", "cols"])).lines().count(), 2);
    assert_eq!(
        ok(&t.run("wharf", &["images", "cols:2"])).lines().count(),
        1
    );
}

#[test]
fn a_load_killed_half_way_leaves_nothing_visible() {
    use std::io::Write;
    let t = TestRoot::new();
    let tree = scratch(&t, "tree");
    sample_tree(&tree, "before");
    import_tree(&t, &tree, "keep");
    let index = std::fs::read(t.path().join("images/index.json")).unwrap();
    let tags = std::fs::read(t.path().join("images/tags.json")).unwrap();
    let big = scratch(&t, "big");
    std::fs::write(big.join("data"), vec![7u8; 4 << 20]).unwrap();
    let layer = layer_of(&big);
    let archive = docker_archive(&config_for(&[&layer]), &[&layer], &["half:1"]);
    let mut child = t
        .cmd("wharf")
        .args(["load"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Half the archive, then wait until wharf is working on it in tmp/.
    stdin.write_all(&archive[..archive.len() / 2]).unwrap();
    let tmp = t.path().join("images/tmp");
    let started = std::time::Instant::now();
    while std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0) == 0 {
        assert!(started.elapsed().as_secs() < 30, "load never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    drop(stdin);
    // Nothing of it is visible: the index and the tags are as they were.
    assert_eq!(
        std::fs::read(t.path().join("images/index.json")).unwrap(),
        index
    );
    assert_eq!(
        std::fs::read(t.path().join("images/tags.json")).unwrap(),
        tags
    );
    assert_eq!(ok(&t.run("wharf", &["images", "-q"])).lines().count(), 1);
    // The next command that changes the store clears its leftovers.
    assert!(count(&tmp) > 0);
    ok(&t.run("wharf", &["image", "prune"]));
    assert_eq!(count(&tmp), 0);
}

#[test]
fn load_accepts_zstd_layers_and_docker_media_types() {
    let t = TestRoot::new();
    let tree = scratch(&t, "tree");
    sample_tree(&tree, "zstd");
    let layer = layer_of(&tree);
    let config = config_for(&[&layer]);
    let zst = zstd(&layer);
    let blob = OciLayer {
        media_type: "application/vnd.oci.image.layer.v1.tar+zstd",
        blob: &zst,
    };
    let f = t.path().join("zstd.tar");
    std::fs::write(&f, oci_layout(&config, &[blob], "z:1")).unwrap();
    ok(&t.run("wharf", &["load", "-i", f.to_str().unwrap()]));
    let out = t.path().join("z");
    ok(&t.run("wharf", &["image", "unpack", "z:1", out.to_str().unwrap()]));
    assert_eq!(tree_facts(&out), tree_facts(&tree));
    // Docker's own media types, as `docker save` (25+) and registries use them.
    let gz = gzip(&layer);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": sha256(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": sha256(&gz), "size": gz.len()}],
    }))
    .unwrap();
    let f = t.path().join("docker-types.tar");
    std::fs::write(&f, oci_layout_with(&manifest, &config, &[&gz], "d:1")).unwrap();
    ok(&t.run("wharf", &["load", "-i", f.to_str().unwrap()]));
    let j: serde_json::Value =
        serde_json::from_str(&ok(&t.run("wharf", &["image", "inspect", "d:1"]))).unwrap();
    assert_eq!(j[0]["Id"], sha256(&config));
    assert_eq!(j[0]["Metadata"]["ManifestDigest"], sha256(&manifest));
}
