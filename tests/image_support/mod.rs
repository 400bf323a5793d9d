//! What the image tests share: trees and layer tars made here (no
//! network, no image from elsewhere), archives written by hand so each can
//! be broken in one chosen way, and a byte-for-byte picture of the store.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest as _, Sha256};

use crate::common::{stderr, TestRoot};

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

pub fn hex_of(digest: &str) -> &str {
    digest.trim_start_matches("sha256:")
}

/// A small tree with what layers must carry: modes, owners, setuid, a
/// file capability, a user xattr, symlinks, hard links, an empty dir.
pub fn sample_tree(dir: &Path, flavour: &str) {
    let w = |p: &str, data: &[u8], mode: u32| {
        let p = dir.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    w(
        "etc/os-release",
        format!("NAME=wharf-{flavour}\n").as_bytes(),
        0o644,
    );
    w("etc/gone", b"deleted by a later layer\n", 0o600);
    w("bin/tool", &b"\x7fELF pretend ".repeat(300), 0o755);
    w("bin/suid", b"setuid program\n", 0o4755);
    w("usr/share/doc/big", &vec![b'x'; 200_000], 0o644);
    w("srv/owned", b"owned by 1000:1000\n", 0o640);
    std::os::unix::fs::lchown(dir.join("srv/owned"), Some(1000), Some(1000)).unwrap();
    std::fs::hard_link(dir.join("bin/tool"), dir.join("bin/tool-link")).unwrap();
    std::os::unix::fs::symlink("tool", dir.join("bin/alias")).unwrap();
    std::os::unix::fs::symlink("/etc/os-release", dir.join("etc/abs-link")).unwrap();
    std::fs::create_dir_all(dir.join("var/empty")).unwrap();
    // A file capability (cap_net_bind_service+ep) and a user xattr.
    let cap: [u8; 20] = [0, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    xattr(&dir.join("bin/tool"), "security.capability", &cap);
    xattr(
        &dir.join("etc/os-release"),
        "user.origin",
        flavour.as_bytes(),
    );
}

fn xattr(p: &Path, name: &str, value: &[u8]) {
    rustix::fs::lsetxattr(p, name, value, rustix::fs::XattrFlags::empty())
        .unwrap_or_else(|e| panic!("setxattr {name} on {}: {e}", p.display()));
}

/// The layer tar of a directory, as chapter 06 exports it.
pub fn layer_of(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    wharf::layer::export(dir, &mut out).unwrap();
    out
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 1).unwrap()
}

/// An image config for these layer tars (uncompressed), with a few
/// settings to check after a round trip.
pub fn config_for(layers: &[&[u8]]) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| sha256(l)).collect();
    let history: Vec<serde_json::Value> = (0..layers.len())
        .map(|i| serde_json::json!({"created": "2024-01-01T00:00:00Z", "created_by": format!("step {i}")}))
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/bin", "A=1"], "Cmd": ["/bin/tool"], "WorkingDir": "/srv"},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }))
    .unwrap()
}

/// A tar made from (path, bytes) members, in that order.
pub fn tar_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in members {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        b.append_data(&mut h, path, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// A docker-archive: manifest.json naming `config.json` and `N.tar`.
pub fn docker_archive(config: &[u8], layers: &[&[u8]], tags: &[&str]) -> Vec<u8> {
    let names: Vec<String> = (0..layers.len())
        .map(|i| format!("{i}/layer.tar"))
        .collect();
    let manifest = serde_json::to_vec(&serde_json::json!([
        {"Config": "config.json", "RepoTags": tags, "Layers": names}
    ]))
    .unwrap();
    let mut members: Vec<(&str, &[u8])> =
        vec![("manifest.json", &manifest), ("config.json", config)];
    for (n, l) in names.iter().zip(layers) {
        members.push((n, l));
    }
    tar_of(&members)
}

/// One layer of an OCI layout: its media type and its blob bytes.
pub struct OciLayer<'a> {
    pub media_type: &'a str,
    pub blob: &'a [u8],
}

/// An OCI image layout tar with one image: blobs, manifest, index.json.
pub fn oci_layout(config: &[u8], layers: &[OciLayer], name: &str) -> Vec<u8> {
    let descs: Vec<serde_json::Value> = layers
        .iter()
        .map(|l| serde_json::json!({"mediaType": l.media_type, "digest": sha256(l.blob), "size": l.blob.len()}))
        .collect();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(config), "size": config.len()},
        "layers": descs,
    }))
    .unwrap();
    oci_layout_with(
        &manifest,
        config,
        &layers.iter().map(|l| l.blob).collect::<Vec<_>>(),
        name,
    )
}

/// The same with a manifest given as bytes (to break it on purpose).
pub fn oci_layout_with(manifest: &[u8], config: &[u8], blobs: &[&[u8]], name: &str) -> Vec<u8> {
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": sha256(manifest), "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": name},
        }],
    }))
    .unwrap();
    let paths: Vec<(String, &[u8])> = std::iter::once(manifest)
        .chain(std::iter::once(config))
        .chain(blobs.iter().copied())
        .map(|b| (format!("blobs/sha256/{}", hex_of(&sha256(b))), b))
        .collect();
    let mut members: Vec<(&str, &[u8])> = vec![
        ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#),
        ("index.json", &index),
    ];
    for (p, b) in &paths {
        members.push((p, b));
    }
    tar_of(&members)
}

/// Every file below the store with its bytes (directories by name): two
/// equal pictures mean nothing in the store changed.
pub fn store_picture(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    walk(&root.join("images"), Path::new(""), &mut out);
    out
}

fn walk(base: &Path, rel: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
    let Ok(rd) = std::fs::read_dir(base.join(rel)) else {
        return;
    };
    for e in rd {
        let e = e.unwrap();
        let rel = rel.join(e.file_name());
        let m = std::fs::symlink_metadata(base.join(&rel)).unwrap();
        if m.is_dir() {
            out.insert(rel.clone(), format!("dir {:o}", m.mode()).into_bytes());
            walk(base, &rel, out);
        } else if m.is_file() {
            let mut v = format!("file {:o} {}:{} ", m.mode(), m.uid(), m.gid()).into_bytes();
            v.extend(std::fs::read(base.join(&rel)).unwrap());
            out.insert(rel, v);
        } else {
            out.insert(
                rel,
                format!("other {:o} {}", m.mode(), m.rdev()).into_bytes(),
            );
        }
    }
}

/// Run wharf with `args`; it must fail with one line that contains every
/// one of `words`, and leave the store exactly as it was.
pub fn refused(t: &TestRoot, args: &[&str], words: &[&str]) -> String {
    let before = store_picture(t.path());
    let out = t.run("wharf", args);
    let err = stderr(&out);
    assert!(!out.status.success(), "wharf {args:?} was accepted");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    for w in words {
        assert!(err.contains(w), "{err:?} does not name {w:?}");
    }
    assert_eq!(
        before,
        store_picture(t.path()),
        "wharf {args:?} changed the store"
    );
    err
}

pub fn ok(out: &Output) -> String {
    assert!(out.status.success(), "failed: {}", stderr(out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Import `tree` as a one-layer image named `name`.
pub fn import_tree(t: &TestRoot, tree: &Path, name: &str) {
    let tar = t
        .path()
        .join(format!("{}.tar", name.replace([':', '/'], "_")));
    std::fs::write(&tar, layer_of(tree)).unwrap();
    ok(&t.run("wharf", &["import", tar.to_str().unwrap(), name]));
}

/// A tree as something to compare: the chapter 06 manifest (names, types,
/// modes, owners, sizes, contents, xattrs) plus which paths are hard links
/// of one another.
pub fn tree_facts(root: &Path) -> (wharf::layer::Manifest, Vec<Vec<PathBuf>>) {
    let m = wharf::layer::manifest(root).unwrap();
    let mut by_inode: BTreeMap<u64, Vec<PathBuf>> = BTreeMap::new();
    for (p, n) in &m.nodes {
        if matches!(n.kind, wharf::layer::tree::Kind::File { .. }) {
            let ino = std::fs::symlink_metadata(root.join(p)).unwrap().ino();
            by_inode.entry(ino).or_default().push(p.clone());
        }
    }
    let mut links: Vec<Vec<PathBuf>> = by_inode.into_values().filter(|v| v.len() > 1).collect();
    links.sort();
    (m, links)
}

/// A temp dir for a test's own files, beside its state root.
pub fn scratch(t: &TestRoot, name: &str) -> PathBuf {
    let p = t.path().join(name);
    std::fs::create_dir_all(&p).unwrap();
    p
}

/// How a hostile member spells its name: in the ustar header itself, in
/// a PAX `path`/`linkpath` record, or in a GNU long-name record. A safe
/// apply must see through all three.
#[derive(Debug, Clone, Copy)]
pub enum Spelling {
    Header,
    Pax,
    GnuLong,
}

pub const SPELLINGS: [Spelling; 3] = [Spelling::Header, Spelling::Pax, Spelling::GnuLong];

/// One member of a hostile layer.
pub struct Member<'a> {
    pub ty: tar::EntryType,
    pub path: &'a str,
    pub link: &'a str,
    pub data: &'a [u8],
}

pub fn file<'a>(path: &'a str, data: &'a [u8]) -> Member<'a> {
    Member {
        ty: tar::EntryType::Regular,
        path,
        link: "",
        data,
    }
}

pub fn link<'a>(ty: tar::EntryType, path: &'a str, target: &'a str) -> Member<'a> {
    Member {
        ty,
        path,
        link: target,
        data: b"",
    }
}

/// A layer tar whose names are written as `how` says, bypassing the tar
/// crate's own checks (which would refuse `..`).
pub fn hostile(members: &[Member], how: Spelling) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for m in members {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(m.ty);
        h.set_size(m.data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        match how {
            Spelling::Header => {
                let g = h.as_gnu_mut().unwrap();
                g.name[..m.path.len()].copy_from_slice(m.path.as_bytes());
                g.linkname[..m.link.len()].copy_from_slice(m.link.as_bytes());
            }
            Spelling::Pax => {
                let mut recs = vec![("path", m.path.as_bytes())];
                if !m.link.is_empty() {
                    recs.push(("linkpath", m.link.as_bytes()));
                }
                b.append_pax_extensions(recs).unwrap();
                h.set_path("placeholder").unwrap();
            }
            Spelling::GnuLong => {
                for (kind, text) in [(b'L', m.path), (b'K', m.link)] {
                    if text.is_empty() {
                        continue;
                    }
                    let mut l = tar::Header::new_gnu();
                    l.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
                    l.set_entry_type(tar::EntryType::new(kind));
                    l.set_size(text.len() as u64 + 1);
                    l.set_cksum();
                    b.append(&l, [text.as_bytes(), b"\0"].concat().as_slice())
                        .unwrap();
                }
                h.set_path("placeholder").unwrap();
            }
        }
        h.set_cksum();
        b.append(&h, m.data).unwrap();
    }
    b.into_inner().unwrap()
}

/// Run wharf on another state root than the test's own; it must succeed.
pub fn wharf_at<S: AsRef<std::ffi::OsStr>>(t: &TestRoot, root: &Path, args: &[S]) -> String {
    ok(&t
        .cmd("wharf")
        .env("WHARF_ROOT", root)
        .args(args)
        .output()
        .unwrap())
}

/// How many entries a directory has.
pub fn count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .count()
}

/// A peer program (skopeo, umoci, podman): it must be installed.
pub fn peer(name: &str) -> Command {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "{name} is not installed: run tests/setup.sh (Debian package {name})"
    );
    Command::new(name)
}

pub fn run_ok(c: &mut Command) -> String {
    let out = c.output().expect("spawn");
    assert!(out.status.success(), "{c:?} failed: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `umoci unpack` of `image` (layout:tag): its rootfs.
pub fn umoci_rootfs(t: &TestRoot, image: &str, name: &str) -> PathBuf {
    let bundle = t.path().join(name);
    run_ok(peer("umoci").args(["unpack", "--image", image, bundle.to_str().unwrap()]));
    bundle.join("rootfs")
}

pub fn wharf_unpack(t: &TestRoot, image: &str, name: &str) -> PathBuf {
    let dir = t.path().join(name);
    ok(&t.run("wharf", &["image", "unpack", image, dir.to_str().unwrap()]));
    dir
}

pub fn assert_same_files(ours: &Path, theirs: &Path) {
    let (a, b) = (tree_facts(ours), tree_facts(theirs));
    let diff = a.0.diff(&b.0);
    assert!(
        diff.is_empty(),
        "wharf and umoci differ:\n{}",
        diff.join("\n")
    );
    assert_eq!(a.1, b.1, "hard links differ");
    assert!(a.0.nodes.len() > 10, "too few files compared");
}

/// podman on a throwaway store below `storage` (vfs, cgroupfs, no
/// events): it never touches the host's images. It must succeed.
pub fn podman_at(storage: &Path, args: &[&str]) -> String {
    let mut c = peer("podman");
    c.args([
        "--root",
        storage.join("root").to_str().unwrap(),
        "--runroot",
        storage.join("run").to_str().unwrap(),
    ])
    .args([
        "--storage-driver",
        "vfs",
        "--cgroup-manager",
        "cgroupfs",
        "--events-backend",
        "none",
    ])
    .args(args);
    run_ok(&mut c)
}
