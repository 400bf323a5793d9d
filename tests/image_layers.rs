//! `wharf layers` (what each layer adds, changes and removes, and the
//! bytes wasted), `wharf df` on two real images that share a base (the seed
//! notes' "5 MB + 300 MB costs 300 MB" example, scaled down), and
//! `wharf rootfs create --image`.

mod common;
mod image_support;
use common::*;
use image_support::*;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A tree of `files` files of `each` bytes, different per `seed`.
fn tree_of(dir: &Path, files: usize, each: usize, seed: u8) {
    for i in 0..files {
        let data: Vec<u8> = (0..each)
            .map(|j| (j as u8).wrapping_mul(31) ^ seed ^ i as u8)
            .collect();
        std::fs::write(dir.join(format!("f{seed}-{i}")), data).unwrap();
    }
}

/// The bytes of the regular files below `dir`, hard links once: measured
/// here, independently of wharf.
fn bytes_below(dir: &Path, seen: &mut std::collections::HashSet<u64>) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let m = e.as_ref().unwrap().metadata().unwrap();
        if m.is_dir() {
            n += bytes_below(&e.unwrap().path(), seen);
        } else if m.is_file() && seen.insert(m.ino()) {
            n += m.len();
        }
    }
    n
}

#[test]
fn df_counts_a_shared_base_once() {
    let t = TestRoot::new();
    let (base, app) = (scratch(&t, "base"), scratch(&t, "app"));
    tree_of(&base, 5, 1_000_000, 1); // the "alpine" of 5 MB
    tree_of(&app, 3, 1_000_000, 2); // what the "golang" image adds
    let (l1, l2) = (layer_of(&base), layer_of(&app));
    for (name, layers) in [("small", vec![&l1[..]]), ("big", vec![&l1[..], &l2[..]])] {
        let f = t.path().join(format!("{name}.tar"));
        std::fs::write(&f, docker_archive(&config_for(&layers), &layers, &[name])).unwrap();
        ok(&t.run("wharf", &["load", "-i", f.to_str().unwrap()]));
    }
    let on_disk = bytes_below(&t.path().join("images/layers"), &mut Default::default());
    assert_eq!(on_disk, 8_000_000, "the base is unpacked once");
    let out = ok(&t.run("wharf", &["df", "-v"]));
    let row = |kind: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(kind))
            .unwrap_or_else(|| panic!("no {kind} row in {out}"))
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(row("Images")[1..], ["2", "8MB"], "{out}");
    assert_eq!(row("Layers")[1..], ["2", "8MB"], "{out}");
    assert!(
        out.contains("Layer sharing saves 5MB: the 2 images would take 13MB"),
        "{out}"
    );
    // Per image: the base is shared, the rest unique.
    let big = row("big");
    assert_eq!(big[3..], ["8MB", "5MB", "3MB"], "{out}");
    let small = row("small");
    assert_eq!(small[3..], ["5MB", "5MB", "0B"], "{out}");
}

#[test]
fn layers_shows_additions_changes_removals_and_waste() {
    let t = TestRoot::new();
    let l1 = tar_of(&[
        ("etc/a", &[b'a'; 1000]),
        ("etc/b", &[b'b'; 500]),
        ("keep", b"k"),
    ]);
    let l2 = tar_of(&[("etc/a", &[b'A'; 10]), ("etc/.wh.b", b"")]);
    let l3 = tar_of(&[("new", &[b'n'; 100])]);
    let layers: Vec<&[u8]> = vec![&l1, &l2, &l3];
    let f = t.path().join("l.tar");
    std::fs::write(
        &f,
        docker_archive(&config_for(&layers), &layers, &["waste:1"]),
    )
    .unwrap();
    ok(&t.run("wharf", &["load", "-i", f.to_str().unwrap()]));
    let out = ok(&t.run("wharf", &["layers", "waste:1"]));
    let cols = |n: &str| -> Vec<String> {
        let l = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(n))
            .unwrap();
        l.split_whitespace().map(str::to_string).collect()
    };
    // LAYER SIZE ADDED CHANGED REMOVED CREATED BY
    assert_eq!(cols("1")[1..5], ["1.5kB", "3", "0", "0"], "{out}");
    assert_eq!(cols("2")[1..5], ["10B", "0", "1", "1"], "{out}");
    assert_eq!(cols("3")[1..5], ["100B", "1", "0", "0"], "{out}");
    assert!(out.contains("layer 2 removes etc/b (whiteout)"), "{out}");
    assert!(out.contains("Potential wasted space: 1.5kB"), "{out}");
    // 1611 bytes in all layers, 111 of them in the final tree.
    assert!(out.contains("Image efficiency score: 6.9 %"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.ends_with("/etc/a") && l.contains("1kB")),
        "{out}"
    );
}

#[test]
fn rootfs_create_can_store_its_result_as_an_image() {
    let t = TestRoot::new();
    let dir = t.path().join("made");
    let out = ok(&t.run(
        "wharf",
        &[
            "rootfs",
            "create",
            dir.to_str().unwrap(),
            "--image",
            "built:here",
        ],
    ));
    assert!(out.contains("image:     built:here (sha256:"), "{out}");
    let unpacked = t.path().join("unpacked");
    ok(&t.run(
        "wharf",
        &["image", "unpack", "built:here", unpacked.to_str().unwrap()],
    ));
    // The same tree, less the device nodes (a container's /dev is made at start).
    let (mut made, _) = tree_facts(&dir);
    made.nodes
        .retain(|_, n| !matches!(n.kind, wharf::layer::tree::Kind::Char { .. }));
    let (got, _) = tree_facts(&unpacked);
    assert!(made.diff(&got).is_empty(), "{:?}", made.diff(&got));
    assert!(got.nodes.contains_key(Path::new("usr/bin/sh")));
    refused(
        &t,
        &[
            "rootfs",
            "create",
            t.path().join("other").to_str().unwrap(),
            "--image",
            "Bad",
        ],
        &["invalid reference format"],
    );
    assert!(
        !t.path().join("other").exists(),
        "nothing built for a bad name"
    );
}

/// Chapters 05–09 run on an image from the store: its unpacked layers are
/// the overlay's lowerdirs, as the container's own mountinfo shows. A name
/// the store does not have is one line, and no container is made.
#[test]
fn the_chapters_run_on_an_image_from_the_store() {
    let t = TestRoot::new();
    let dir = t.path().join("made");
    ok(&t.run(
        "wharf",
        &[
            "rootfs",
            "create",
            dir.to_str().unwrap(),
            "--image",
            "base:1",
        ],
    ));
    let layers = t.path().join("images/layers");
    let script = "grep ' / ' /proc/self/mountinfo";
    for ch in ["ch05-union", "ch07-volumes", "ch08-security"] {
        let out = ok(&t.run(ch, &["--image", "base:1", "--", "/bin/sh", "-c", script]));
        let lowerdir = out
            .split(',')
            .find_map(|o| o.strip_prefix("lowerdir="))
            .unwrap_or_else(|| panic!("{ch}: no overlay root: {out}"));
        assert!(
            lowerdir
                .split(':')
                .any(|l| l.starts_with(layers.to_str().unwrap())),
            "{ch}: lowerdir {lowerdir} is not the store's layer"
        );
    }
    let out = t.run("ch05-union", &["--image", "nosuch:1", "--", "/bin/true"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("nosuch"), "{err}");
    let made = std::fs::read_dir(t.path().join("containers"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(made, 0, "a container dir was made for a missing image");
}
