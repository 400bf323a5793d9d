//! Applying a hostile layer never writes outside the target, and a refused
//! layer leaves the target exactly as it was. Each tar here is made by hand
//! with the tar crate's raw header API, so it can say what a careful
//! writer never would.

use std::path::{Path, PathBuf};

use tar::{EntryType, Header};
use wharf::layer::{self, ApplyOptions, Manifest};

/// One raw tar entry.
enum E<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hard(&'a str, &'a str),
    Char(&'a str, u32, u32),
    /// A file with PAX xattr records.
    XattrFile(&'a str, &'a str, &'a [u8]),
}

/// Write names straight into the header bytes: set_path would refuse `..`.
fn raw_header(ty: EntryType, name: &str, link: &str, size: u64) -> Header {
    let mut h = Header::new_ustar();
    h.set_entry_type(ty);
    h.set_mode(if ty == EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_size(size);
    h.set_mtime(1_704_067_200);
    h.set_uid(0);
    h.set_gid(0);
    let old = h.as_old_mut();
    old.name[..name.len()].copy_from_slice(name.as_bytes());
    old.linkname[..link.len()].copy_from_slice(link.as_bytes());
    h.set_cksum();
    h
}

fn tar_of(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        match e {
            E::File(n, data) => b.append(
                &raw_header(EntryType::Regular, n, "", data.len() as u64),
                *data,
            ),
            E::Dir(n) => b.append(&raw_header(EntryType::Directory, n, "", 0), &[][..]),
            E::Symlink(n, t) => b.append(&raw_header(EntryType::Symlink, n, t, 0), &[][..]),
            E::Hard(n, t) => b.append(&raw_header(EntryType::Link, n, t, 0), &[][..]),
            E::Char(n, maj, min) => {
                let mut h = raw_header(EntryType::Char, n, "", 0);
                h.set_device_major(*maj).unwrap();
                h.set_device_minor(*min).unwrap();
                h.set_cksum();
                b.append(&h, &[][..])
            }
            E::XattrFile(n, key, value) => {
                b.append_pax_extensions([(format!("SCHILY.xattr.{key}").as_str(), *value)])
                    .unwrap();
                b.append(&raw_header(EntryType::Regular, n, "", 0), &[][..])
            }
        }
        .unwrap();
    }
    b.into_inner().unwrap()
}

/// A target with lower content, and an `outside` dir beside it holding a
/// secret that no layer may reach.
struct Scene {
    _dir: tempfile::TempDir,
    target: PathBuf,
    outside: PathBuf,
}

impl Scene {
    fn new() -> Scene {
        let dir = tempfile::Builder::new()
            .prefix("wharf-layer-")
            .tempdir()
            .unwrap();
        let target = dir.path().join("target");
        let outside = dir.path().join("outside");
        for d in [target.join("etc"), target.join("dir/sub"), outside.clone()] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(target.join("etc/keep"), "lower\n").unwrap();
        std::fs::write(target.join("dir/x"), "x\n").unwrap();
        std::fs::write(target.join("dir/sub/y"), "y\n").unwrap();
        std::fs::write(outside.join("secret"), "secret\n").unwrap();
        Scene {
            _dir: dir,
            target,
            outside,
        }
    }

    fn state(&self) -> (Manifest, Manifest, Vec<String>) {
        let parent = self.target.parent().unwrap();
        let mut names: Vec<String> = std::fs::read_dir(parent)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into())
            .collect();
        names.sort();
        (
            layer::manifest(&self.target).unwrap(),
            layer::manifest(&self.outside).unwrap(),
            names,
        )
    }

    /// Apply `tar`; it must be refused with a message naming `entry`, and
    /// nothing may change: not the target, not outside, no staging left.
    fn refused(&self, tar: &[u8], opts: &ApplyOptions, entry: &str) -> String {
        let before = self.state();
        let err = layer::apply(tar, &self.target, opts).expect_err("hostile layer was applied");
        let msg = format!("{err:#}");
        assert!(
            msg.contains(entry),
            "error does not name the entry {entry:?}: {msg}"
        );
        assert!(!msg.contains('\n'), "error is not one line: {msg}");
        assert_eq!(self.state(), before, "a refused layer changed something");
        msg
    }
}

fn plain() -> ApplyOptions {
    ApplyOptions::default()
}

#[test]
fn dotdot_entry_is_refused() {
    let s = Scene::new();
    let tar = tar_of(&[
        E::File("etc/new", b"ok"),
        E::File("../outside/evil", b"pwned"),
    ]);
    let msg = s.refused(&tar, &plain(), "../outside/evil");
    assert!(msg.contains(".."), "{msg}");
}

#[test]
fn absolute_entry_is_refused() {
    let s = Scene::new();
    let abs = format!("{}/evil", s.outside.display());
    let tar = tar_of(&[E::File(&abs, b"pwned")]);
    let msg = s.refused(&tar, &plain(), &abs);
    assert!(msg.contains("absolute"), "{msg}");
}

#[test]
fn file_written_through_a_symlink_is_refused() {
    let s = Scene::new();
    let out = s.outside.display().to_string();
    let tar = tar_of(&[E::Symlink("link", &out), E::File("link/evil", b"pwned")]);
    let msg = s.refused(&tar, &plain(), "link/evil");
    assert!(msg.contains("symlink"), "{msg}");
}

#[test]
fn file_written_through_a_relative_symlink_is_refused() {
    let s = Scene::new();
    let tar = tar_of(&[E::Symlink("up", "../outside"), E::File("up/evil", b"pwned")]);
    s.refused(&tar, &plain(), "up/evil");
}

#[test]
fn hardlink_climbing_out_is_refused() {
    let s = Scene::new();
    let tar = tar_of(&[E::Hard("stolen", "../outside/secret")]);
    s.refused(&tar, &plain(), "stolen");
}

#[test]
fn hardlink_to_an_absolute_path_is_refused() {
    let s = Scene::new();
    let abs = format!("{}/secret", s.outside.display());
    let tar = tar_of(&[E::Hard("stolen", &abs)]);
    let msg = s.refused(&tar, &plain(), "stolen");
    assert!(msg.contains("absolute"), "{msg}");
}

#[test]
fn hardlink_through_a_symlink_is_refused() {
    let s = Scene::new();
    let out = s.outside.display().to_string();
    let tar = tar_of(&[E::Symlink("link", &out), E::Hard("stolen", "link/secret")]);
    s.refused(&tar, &plain(), "stolen");
}

#[test]
fn directory_swapped_for_a_symlink_mid_apply_is_refused() {
    let s = Scene::new();
    let out = s.outside.display().to_string();
    let tar = tar_of(&[
        E::Dir("d/"),
        E::File("d/a", b"fine"),
        E::Symlink("d", &out),
        E::File("d/b", b"pwned"),
    ]);
    s.refused(&tar, &plain(), "d/b");
}

#[test]
fn lower_directory_swapped_for_a_symlink_is_refused() {
    let s = Scene::new();
    let out = s.outside.display().to_string();
    let tar = tar_of(&[E::Symlink("dir", &out), E::File("dir/sub/y", b"pwned")]);
    s.refused(&tar, &plain(), "dir/sub/y");
}

#[test]
fn device_nodes_are_refused_by_default() {
    let s = Scene::new();
    let tar = tar_of(&[E::Char("dev/mem", 1, 1)]);
    let msg = s.refused(&tar, &plain(), "dev/mem");
    assert!(msg.contains("device"), "{msg}");
}

#[test]
fn raw_overlay_whiteout_device_is_refused() {
    let s = Scene::new();
    let tar = tar_of(&[E::Char("etc/keep", 0, 0)]);
    s.refused(&tar, &plain(), "etc/keep");
    let upper = ApplyOptions {
        target: layer::Target::OverlayUpper,
        allow_devices: false,
    };
    s.refused(&tar, &upper, "etc/keep");
}

#[test]
fn whiteouts_that_escape_their_directory_are_refused() {
    for name in ["dir/.wh..", "dir/.wh...", ".wh.", "dir/.wh..wh.plnk"] {
        let s = Scene::new();
        let tar = tar_of(&[E::File(name, b"")]);
        s.refused(&tar, &plain(), name);
    }
}

#[test]
fn whiteout_name_used_as_a_directory_is_refused() {
    let s = Scene::new();
    let tar = tar_of(&[E::File("etc/.wh.keep/x", b"")]);
    s.refused(&tar, &plain(), "etc/.wh.keep/x");
}

#[test]
fn overlay_private_xattrs_are_refused() {
    let s = Scene::new();
    let tar = tar_of(&[E::XattrFile("etc/new", "trusted.overlay.redirect", b"/etc")]);
    s.refused(&tar, &plain(), "etc/new");
}

#[test]
fn garbage_is_one_clear_error_and_changes_nothing() {
    let s = Scene::new();
    let before = s.state();
    let garbage: Vec<u8> = (0..2048u32).map(|i| (i * 7 + 3) as u8).collect();
    let msg = format!(
        "{:#}",
        layer::apply(&garbage[..], &s.target, &plain()).unwrap_err()
    );
    assert!(msg.contains("malformed"), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
    assert_eq!(s.state(), before);
}

#[test]
fn truncated_tar_changes_nothing() {
    let s = Scene::new();
    let mut tar = tar_of(&[
        E::File("etc/first", b"complete"),
        E::File("etc/big", &[7u8; 4096]),
    ]);
    tar.truncate(512 * 3 + 100);
    let before = s.state();
    let msg = format!(
        "{:#}",
        layer::apply(&tar[..], &s.target, &plain()).unwrap_err()
    );
    assert!(msg.contains("etc/big"), "{msg}");
    assert_eq!(s.state(), before);
    assert!(!s.target.join("etc/first").exists());
}

// What apply must do, next to what it must refuse.

fn applied(s: &Scene, tar: &[u8]) {
    layer::apply(tar, &s.target, &plain()).expect("layer applies");
}

fn names_below(root: &Path) -> Vec<String> {
    layer::manifest(root)
        .unwrap()
        .nodes
        .keys()
        .map(|p| p.display().to_string())
        .collect()
}

#[test]
fn whiteout_deletes_the_lower_file_and_leaves_no_marker() {
    let s = Scene::new();
    applied(
        &s,
        &tar_of(&[E::File("etc/.wh.keep", b""), E::File("dir/sub/.wh.y", b"")]),
    );
    assert_eq!(names_below(&s.target), ["dir", "dir/sub", "dir/x", "etc"]);
}

#[test]
fn a_whiteout_hides_only_what_the_layers_below_have() {
    let s = Scene::new();
    // Before or after the layer's own file of that name: the lower `keep`
    // goes, the layer's own stays (OCI: whiteouts apply to lower layers).
    applied(
        &s,
        &tar_of(&[E::File("etc/.wh.keep", b""), E::File("etc/keep", b"new\n")]),
    );
    assert_eq!(std::fs::read(s.target.join("etc/keep")).unwrap(), b"new\n");
    applied(
        &s,
        &tar_of(&[E::File("etc/late", b"x"), E::File("etc/.wh.late", b"")]),
    );
    assert_eq!(std::fs::read(s.target.join("etc/late")).unwrap(), b"x");
    // A directory this layer writes into: its own child stays, the lower
    // child `x` goes.
    applied(
        &s,
        &tar_of(&[
            E::Dir("dir"),
            E::File("dir/mine", b"m"),
            E::File(".wh.dir", b""),
        ]),
    );
    assert_eq!(names_below(&s.target.join("dir")), ["mine"]);
}

#[test]
fn whiteout_of_a_directory_deletes_all_of_it() {
    let s = Scene::new();
    applied(&s, &tar_of(&[E::File(".wh.dir", b"")]));
    assert_eq!(names_below(&s.target), ["etc", "etc/keep"]);
}

#[test]
fn opaque_marker_hides_lower_children_wherever_it_comes() {
    for marker_first in [true, false] {
        let s = Scene::new();
        let marker = E::File("dir/.wh..wh..opq", b"");
        let mut entries = vec![
            E::Dir("dir/"),
            E::File("dir/new", b"n"),
            E::Dir("dir/sub/"),
            E::File("dir/sub/z", b"z"),
        ];
        if marker_first {
            entries.insert(1, marker);
        } else {
            entries.push(marker);
        }
        applied(&s, &tar_of(&entries));
        assert_eq!(
            names_below(&s.target),
            ["dir", "dir/new", "dir/sub", "dir/sub/z", "etc", "etc/keep"]
        );
    }
}

#[test]
fn apply_into_a_missing_target_creates_it() {
    let s = Scene::new();
    let fresh = s.target.parent().unwrap().join("fresh");
    layer::apply(
        &tar_of(&[E::File("a/b", b"hi"), E::File("a/.wh.none", b"")])[..],
        &fresh,
        &plain(),
    )
    .unwrap();
    assert_eq!(names_below(&fresh), ["a", "a/b"]);
}

// A hostile process racing the staging copy of the target.

/// Stops the racing thread and waits for it, also when the test fails,
/// before the scene's directory is removed.
struct Racer {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Racer {
    fn finish(mut self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread.take().unwrap().join().expect("racer panicked")
    }
}

impl Drop for Racer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `renameat2(a, b, RENAME_EXCHANGE)`: both names exist at every instant.
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(Into::into)
}

/// Every non-directory below `root` (not following symlinks), with its
/// inode and, for a regular file, its bytes.
fn files_below(root: &Path, out: &mut Vec<(PathBuf, u64, Option<Vec<u8>>)>) {
    use std::os::unix::fs::MetadataExt;
    for e in std::fs::read_dir(root).unwrap() {
        let p = e.unwrap().path();
        let m = std::fs::symlink_metadata(&p).unwrap();
        if m.is_dir() {
            files_below(&p, out);
        } else {
            let bytes = m.is_file().then(|| std::fs::read(&p).unwrap());
            out.push((p, m.ino(), bytes));
        }
    }
}

#[test]
fn directory_swapped_for_a_symlink_while_staging_never_leaks() {
    use std::os::unix::fs::MetadataExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    let s = Scene::new();
    let victim = s.target.join("victim");
    std::fs::create_dir_all(victim.join("sub")).unwrap();
    // Enough entries that the staging copy takes a while in there.
    for i in 0..200 {
        std::fs::write(victim.join(format!("f{i:03}")), "lower\n").unwrap();
    }
    std::fs::write(victim.join("sub/y"), "y\n").unwrap();
    let park = s.target.parent().unwrap().join("park");
    std::fs::create_dir(&park).unwrap();
    let decoy = park.join("decoy");
    let secret = s.outside.join("secret");
    let secret_ino = std::fs::metadata(&secret).unwrap().ino();
    let outside_before = layer::manifest(&s.outside).unwrap();

    // The racer swaps `victim` with a symlink to `outside` and back, over
    // and over. While it holds `gate`, the target may show the symlink;
    // between swaps `victim` is the real directory again.
    let gate = Arc::new(Mutex::new(()));
    let stop = Arc::new(AtomicBool::new(false));
    let racer = Racer {
        stop: stop.clone(),
        thread: Some(std::thread::spawn({
            let (gate, victim, decoy, outside) = (
                gate.clone(),
                victim.clone(),
                decoy.clone(),
                s.outside.clone(),
            );
            move || {
                let mut swaps = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    let held = gate.lock().unwrap_or_else(|e| e.into_inner());
                    // A commit between our two swaps leaves a directory
                    // parked here: make the decoy a symlink again.
                    match std::fs::symlink_metadata(&decoy) {
                        Ok(m) if m.file_type().is_symlink() => {}
                        // A commit may be removing it too: errors are fine.
                        Ok(_) => {
                            let _ = std::fs::remove_dir_all(&decoy);
                        }
                        Err(_) => {}
                    }
                    if std::fs::symlink_metadata(&decoy).is_err() {
                        let _ = std::os::unix::fs::symlink(&outside, &decoy);
                    }
                    if exchange(&victim, &decoy).is_ok() {
                        swaps += 1;
                        std::thread::sleep(Duration::from_micros(50));
                        // May fail when a commit swapped the whole target
                        // meanwhile; the next round repairs the decoy.
                        let _ = exchange(&victim, &decoy);
                    }
                    drop(held);
                    std::thread::sleep(Duration::from_micros(20));
                }
                swaps
            }
        })),
    };

    let tar = tar_of(&[E::File("etc/new", b"new\n"), E::File("victim/z", b"z\n")]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut applied, mut refused) = (0, 0);
    for round in 0..300 {
        if Instant::now() > deadline {
            break;
        }
        let (root_before, tree_before) = {
            let _paused = gate.lock().unwrap();
            let ino = std::fs::symlink_metadata(&s.target).unwrap().ino();
            (ino, layer::manifest(&s.target).unwrap())
        };
        let result = layer::apply(&tar[..], &s.target, &plain());
        let _paused = gate.lock().unwrap();
        let mut files = Vec::new();
        files_below(&s.target, &mut files);
        for (p, ino, bytes) in &files {
            assert!(
                *ino != secret_ino && bytes.as_deref() != Some(b"secret\n".as_slice()),
                "round {round}: the secret from outside is in the target at {}",
                p.display()
            );
        }
        assert_eq!(
            std::fs::metadata(&secret).unwrap().nlink(),
            1,
            "round {round}"
        );
        assert_eq!(layer::manifest(&s.outside).unwrap(), outside_before);
        let mut beside: Vec<String> = std::fs::read_dir(s.target.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into())
            .collect();
        beside.sort();
        assert_eq!(
            beside,
            ["outside", "park", "target"],
            "round {round}: staging left"
        );
        let root_after = std::fs::symlink_metadata(&s.target).unwrap().ino();
        match result {
            Ok(_) => {
                applied += 1;
                assert_ne!(root_after, root_before, "round {round}: applied in place?");
                assert_eq!(std::fs::read(s.target.join("etc/new")).unwrap(), b"new\n");
            }
            Err(e) => {
                refused += 1;
                let msg = format!("{e:#}");
                assert!(!msg.contains('\n'), "round {round}: not one line: {msg}");
                assert!(
                    msg.contains("victim"),
                    "round {round}: entry not named: {msg}"
                );
                assert_eq!(
                    root_after, root_before,
                    "round {round}: target replaced: {msg}"
                );
                assert_eq!(
                    layer::manifest(&s.target).unwrap(),
                    tree_before,
                    "round {round}: a failed apply changed the target: {msg}"
                );
            }
        }
    }
    let swaps = racer.finish();
    eprintln!("{applied} applied, {refused} refused, {swaps} swaps");
    assert!(
        swaps > 0,
        "the racer never swapped: the test proved nothing"
    );
    assert!(applied + refused >= 20, "too few rounds ran");
}
