//! src/image/commit.rs judged from the bytes on disk: an upper dir with an
//! added file, a changed file and a whiteout becomes a new image whose
//! unpacked root shows exactly those changes; a metadata-only commit adds
//! a history entry and no layer.

mod common;

use std::fs;
use std::path::Path;

use wharf::image::commit::{commit, Commit};
use wharf::image::import::{import_dir, ImportOptions};
use wharf::image::{tags, unpack::unpack, Lock, Quiet, Reference, Store};

fn parent(store: &Store, tmp: &Path) {
    let base = tmp.join("base");
    fs::create_dir_all(base.join("etc")).unwrap();
    fs::write(base.join("etc/keep"), "kept\n").unwrap();
    fs::write(base.join("etc/motd"), "old\n").unwrap();
    fs::write(base.join("etc/gone"), "delete me\n").unwrap();
    let r = Reference::parse("base:1").unwrap();
    import_dir(store, &base, Some(&r), &ImportOptions::default(), &Quiet).unwrap();
}

#[test]
fn an_upper_dir_becomes_a_layer_on_its_parent() {
    let t = common::TestRoot::new();
    let store = Store::open(t.path(), Lock::Exclusive).unwrap();
    parent(&store, t.path());
    let upper = t.path().join("upper");
    fs::create_dir_all(upper.join("etc")).unwrap();
    fs::write(upper.join("etc/added"), "new\n").unwrap();
    fs::write(upper.join("etc/motd"), "changed\n").unwrap();
    // overlay's whiteout: a 0/0 character device where the file was.
    nix::sys::stat::mknod(
        &upper.join("etc/gone"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o600),
        0,
    )
    .unwrap();
    let base = tags::resolve(&store, "base:1").unwrap();
    let tag = [Reference::parse("child:1").unwrap()];
    let made = commit(
        &store,
        &Commit {
            parent: Some(&base),
            upper: Some(&upper),
            config: None,
            docker_fields: None,
            changes: &[r#"CMD ["/bin/sh"]"#.to_string()],
            created_by: "/bin/sh -c edit".into(),
            comment: Some("by hand".into()),
            author: None,
            created: 1_700_000_000,
            tags: &tag,
        },
        &Quiet,
    )
    .unwrap();
    let child = tags::resolve(&store, "child:1").unwrap();
    assert_eq!(child.id(), &made.id);
    assert_eq!(child.manifest.layers().len(), 2);
    assert_eq!(
        child.manifest.layers()[0].digest(),
        base.manifest.layers()[0].digest()
    );
    let history = child.config.history().clone().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].created_by().as_deref(), Some("/bin/sh -c edit"));
    assert_eq!(history[1].comment().as_deref(), Some("by hand"));
    assert_eq!(
        history[1].created().as_deref(),
        Some("2023-11-14T22:13:20Z")
    );
    let cfg = child.config.config().clone().unwrap();
    assert_eq!(cfg.cmd().clone().unwrap(), ["/bin/sh"]);

    let root = t.path().join("unpacked");
    unpack(&store, &child, &root, &Quiet).unwrap();
    assert_eq!(fs::read_to_string(root.join("etc/keep")).unwrap(), "kept\n");
    assert_eq!(fs::read_to_string(root.join("etc/added")).unwrap(), "new\n");
    assert_eq!(
        fs::read_to_string(root.join("etc/motd")).unwrap(),
        "changed\n"
    );
    assert!(!root.join("etc/gone").exists(), "the whiteout deleted it");
    // The new layer is unpacked under its ChainID, ready to be a lowerdir.
    let chains = wharf::image::digest::chain_ids(&child.diff_ids().unwrap());
    assert!(store.layer_dir(&chains[1]).join("etc/added").is_file());
}

#[test]
fn a_metadata_only_commit_adds_history_but_no_layer() {
    let t = common::TestRoot::new();
    let store = Store::open(t.path(), Lock::Exclusive).unwrap();
    parent(&store, t.path());
    let base = tags::resolve(&store, "base:1").unwrap();
    let c = Commit {
        parent: Some(&base),
        upper: None,
        config: None,
        docker_fields: None,
        changes: &["ENV A=1".to_string()],
        created_by: "/bin/sh -c #(nop) ENV A=1".into(),
        comment: None,
        author: None,
        created: 0,
        tags: &[],
    };
    let one = commit(&store, &c, &Quiet).unwrap();
    let two = commit(&store, &c, &Quiet).unwrap();
    assert_eq!(one, two, "the same commit gives the same digests");
    let img = tags::resolve(&store, wharf::image::digest::hex(&one.id)).unwrap();
    assert_eq!(img.manifest.layers().len(), 1);
    let history = img.config.history().clone().unwrap();
    assert_eq!(history[1].empty_layer(), Some(true));
    assert_eq!(
        img.config.config().clone().unwrap().env().clone().unwrap(),
        ["A=1"]
    );
}
