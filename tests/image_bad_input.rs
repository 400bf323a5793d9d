//! Bad input to `wharf load` and `wharf import`: each is refused with one
//! line naming the problem and the entry or digest at fault, and the store
//! is byte for byte what it was (every file and its contents compared).

mod common;
mod image_support;
use common::*;
use image_support::*;

use tar::EntryType;

/// A store that already holds an image (so "unchanged" means something),
/// and a good layer to build broken archives from.
fn scene() -> (TestRoot, Vec<u8>) {
    let t = TestRoot::new();
    let tree = scratch(&t, "tree");
    sample_tree(&tree, "good");
    import_tree(&t, &tree, "keep");
    (t, layer_of(&tree))
}

fn write(t: &TestRoot, name: &str, bytes: &[u8]) -> String {
    let p = t.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_str().unwrap().to_string()
}

fn load_refused(t: &TestRoot, archive: &[u8], words: &[&str]) -> String {
    let f = write(t, "bad.tar", archive);
    refused(t, &["load", "-i", &f], words)
}

/// A docker-archive of one layer (its config made to match it).
fn docker_of(layer: &[u8]) -> Vec<u8> {
    docker_archive(&config_for(&[layer]), &[layer], &["bad:1"])
}

#[test]
fn a_corrupt_layer_tar() {
    let (t, _) = scene();
    let garbage = b"this is not a tar archive at all\n".repeat(64);
    load_refused(
        &t,
        &docker_of(&garbage),
        &["layer 1 of 1", "0/layer.tar", "malformed"],
    );
}

#[test]
fn a_corrupt_archive() {
    let (t, _) = scene();
    load_refused(
        &t,
        &b"\x00garbage".repeat(200),
        &["archive", "not a valid tar"],
    );
    // A tar, but of something else.
    load_refused(
        &t,
        &tar_of(&[("hello.txt", b"hi")]),
        &["not an image archive"],
    );
}

#[test]
fn truncated_gzip_and_zstd_layers() {
    let (t, layer) = scene();
    let config = config_for(&[&layer]);
    for (mt, full) in [
        ("application/vnd.oci.image.layer.v1.tar+gzip", gzip(&layer)),
        ("application/vnd.oci.image.layer.v1.tar+zstd", zstd(&layer)),
    ] {
        let cut = &full[..full.len() / 2];
        let archive = oci_layout(
            &config,
            &[OciLayer {
                media_type: mt,
                blob: cut,
            }],
            "bad:1",
        );
        load_refused(&t, &archive, &["layer 1 of 1", hex_of(&sha256(cut))]);
        // The same stream cut inside a docker-archive, compression sniffed.
        load_refused(
            &t,
            &docker_archive(&config, &[cut], &["bad:1"]),
            &["layer 1 of 1"],
        );
    }
}

#[test]
fn a_layer_whose_bytes_do_not_match_its_digest() {
    let (t, layer) = scene();
    let config = config_for(&[&layer]);
    let good = gzip(&layer);
    let mut evil = good.clone();
    let n = evil.len();
    evil[n - 20] ^= 0xff; // inside the deflate stream's trailer region
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha256(&good), "size": good.len()}],
    }))
    .unwrap();
    // The blob file carries the name of the good bytes, but other bytes.
    let archive = oci_with_blob_named(&manifest, &config, &good, &evil);
    load_refused(&t, &archive, &[hex_of(&sha256(&good))]);
}

/// An OCI layout whose layer blob at `name_of`'s path holds `bytes`.
fn oci_with_blob_named(manifest: &[u8], config: &[u8], name_of: &[u8], bytes: &[u8]) -> Vec<u8> {
    let good = oci_layout_with(manifest, config, &[name_of], "bad:1");
    let path = format!("blobs/sha256/{}", hex_of(&sha256(name_of)));
    let mut ar = tar::Archive::new(&good[..]);
    let mut members: Vec<(String, Vec<u8>)> = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        members.push((p.clone(), if p == path { bytes.to_vec() } else { data }));
    }
    let refs: Vec<(&str, &[u8])> = members
        .iter()
        .map(|(p, d)| (p.as_str(), d.as_slice()))
        .collect();
    tar_of(&refs)
}

#[test]
fn a_config_whose_digest_does_not_match() {
    let (t, layer) = scene();
    let config = config_for(&[&layer]);
    let blob = OciLayer {
        media_type: "application/vnd.oci.image.layer.v1.tar",
        blob: &layer,
    };
    let good = oci_layout(&config, &[blob], "bad:1");
    let mut tampered = config.clone();
    tampered.extend(b" ");
    let manifest_of = |cfg_digest: String| {
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg_digest, "size": config.len() + 1},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(&layer), "size": layer.len()}],
        }))
        .unwrap()
    };
    let _ = good;
    let manifest = manifest_of(sha256(&config));
    let archive = oci_with_blob_named(&manifest, &tampered, &config, &tampered);
    load_refused(&t, &archive, &["digest mismatch", hex_of(&sha256(&config))]);
}

#[test]
fn a_missing_blob() {
    let (t, _) = scene();
    // A layer the store does not have (one it has needs no reading).
    let new = scratch(&t, "new");
    std::fs::write(new.join("only-here"), b"new").unwrap();
    let layer = layer_of(&new);
    let config = config_for(&[&layer]);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(&layer), "size": layer.len()}],
    }))
    .unwrap();
    // The layer blob is left out of the archive.
    let archive = oci_layout_with(&manifest, &config, &[], "bad:1");
    load_refused(
        &t,
        &archive,
        &["not in the archive", hex_of(&sha256(&layer))],
    );
}

#[test]
fn an_unknown_media_type() {
    let (t, layer) = scene();
    let config = config_for(&[&layer]);
    let blob = OciLayer {
        media_type: "application/x-mystery",
        blob: &layer,
    };
    load_refused(
        &t,
        &oci_layout(&config, &[blob], "bad:1"),
        &["unknown layer media type", "application/x-mystery"],
    );
}

#[test]
fn a_manifest_that_names_a_layer_twice() {
    let (t, layer) = scene();
    let config = config_for(&[&layer, &layer]);
    let manifest = serde_json::to_vec(&serde_json::json!([
        {"Config": "config.json", "RepoTags": ["bad:1"], "Layers": ["0/layer.tar", "0/layer.tar"]}
    ]))
    .unwrap();
    let archive = tar_of(&[
        ("manifest.json", &manifest),
        ("config.json", &config),
        ("0/layer.tar", &layer),
    ]);
    load_refused(&t, &archive, &["names layer 0/layer.tar twice"]);
    let blob = OciLayer {
        media_type: "application/vnd.oci.image.layer.v1.tar",
        blob: &layer,
    };
    let blob2 = OciLayer {
        media_type: "application/vnd.oci.image.layer.v1.tar",
        blob: &layer,
    };
    load_refused(
        &t,
        &oci_layout(&config, &[blob, blob2], "bad:1"),
        &["twice", hex_of(&sha256(&layer))],
    );
}

#[test]
fn diff_ids_that_disagree_with_the_layers() {
    let (t, layer) = scene();
    let other = layer_of(&scratch(&t, "empty"));
    // The config promises another layer's DiffID.
    let config = config_for(&[&other]);
    let archive = docker_archive(&config, &[&layer], &["bad:1"]);
    load_refused(&t, &archive, &["DiffID", &sha256(&other)]);
    // Or a count that is not the layers'.
    let config = config_for(&[&layer, &other]);
    load_refused(
        &t,
        &docker_archive(&config, &[&layer], &["bad:1"]),
        &["DiffIDs disagree", "2"],
    );
}

#[test]
fn a_docker_archive_that_points_outside_itself() {
    let (t, layer) = scene();
    let config = config_for(&[&layer]);
    for path in ["../../etc/passwd", "/etc/passwd", "a/../../x"] {
        let manifest = serde_json::to_vec(&serde_json::json!([
            {"Config": "config.json", "RepoTags": ["bad:1"], "Layers": [path]}
        ]))
        .unwrap();
        let archive = tar_of(&[("manifest.json", &manifest), ("config.json", &config)]);
        load_refused(&t, &archive, &["outside the archive", path]);
    }
    // A symlink member that climbs out, in a tar and in a directory.
    let manifest = serde_json::to_vec(&serde_json::json!([
        {"Config": "config.json", "RepoTags": ["bad:1"], "Layers": ["0/layer.tar"]}
    ]))
    .unwrap();
    let mut b = tar::Builder::new(Vec::new());
    for (p, d) in [("manifest.json", &manifest), ("config.json", &config)] {
        let mut h = tar::Header::new_ustar();
        h.set_size(d.len() as u64);
        b.append_data(&mut h, p, &d[..]).unwrap();
    }
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "0/layer.tar", "../../../../etc/passwd")
        .unwrap();
    load_refused(
        &t,
        &b.into_inner().unwrap(),
        &["outside the archive", "0/layer.tar"],
    );
    let dir = scratch(&t, "archive-dir");
    std::fs::write(dir.join("manifest.json"), &manifest).unwrap();
    std::fs::write(dir.join("config.json"), &config).unwrap();
    std::fs::create_dir(dir.join("0")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.join("0/layer.tar")).unwrap();
    refused(
        &t,
        &["load", "-i", dir.to_str().unwrap()],
        &["outside the archive", "0/layer.tar"],
    );
}

/// Load a one-layer image whose layer is `members` spelled each way.
fn hostile_refused(t: &TestRoot, members: &[Member], words: &[&str]) {
    for how in SPELLINGS {
        let layer = hostile(members, how);
        let err = load_refused(t, &docker_of(&layer), words);
        assert!(err.contains("refused"), "{how:?}: {err}");
    }
}

#[test]
fn entries_with_dotdot_or_absolute_names() {
    let (t, _) = scene();
    hostile_refused(&t, &[file("../escaped", b"x")], &["../escaped"]);
    hostile_refused(&t, &[file("a/../../escaped", b"x")], &["a/../../escaped"]);
    hostile_refused(&t, &[file("/etc/escaped", b"x")], &["/etc/escaped"]);
}

#[test]
fn links_out_of_the_root_and_writes_through_a_symlink() {
    let (t, _) = scene();
    hostile_refused(
        &t,
        &[link(EntryType::Link, "h", "../../etc/passwd")],
        &["hard link"],
    );
    hostile_refused(
        &t,
        &[link(EntryType::Link, "h", "/etc/passwd")],
        &["hard link"],
    );
    hostile_refused(
        &t,
        &[
            link(EntryType::Symlink, "up", "/tmp"),
            file("up/written-through", b"x"),
        ],
        &["up/written-through", "symlink"],
    );
}

#[test]
fn device_nodes_and_whiteouts_of_dotdot() {
    let (t, _) = scene();
    hostile_refused(
        &t,
        &[Member {
            ty: EntryType::Char,
            path: "dev/mem",
            link: "",
            data: b"",
        }],
        &["dev/mem", "device"],
    );
    hostile_refused(&t, &[file("etc/.wh...", b"")], &["etc/.wh..."]);
}

#[test]
fn invalid_names_and_tags() {
    let (t, layer) = scene();
    let f = write(&t, "good.tar", &layer);
    refused(
        &t,
        &["import", &f, "Bad/Name"],
        &["invalid reference format", "lowercase"],
    );
    refused(
        &t,
        &["import", &f, "app:-tag"],
        &["invalid reference format", "-tag"],
    );
    refused(
        &t,
        &["tag", "keep", "a//b"],
        &["invalid reference format", "a//b"],
    );
    refused(
        &t,
        &["tag", "nothing-here", "x"],
        &["no such image", "nothing-here"],
    );
    load_refused(
        &t,
        &docker_archive(&config_for(&[&layer]), &[&layer], &["UPPER:case"]),
        &["UPPER:case"],
    );
}
