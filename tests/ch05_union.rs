//! Chapter 05 judged from the kernel's side: what lands in the upper dir
//! (bytes on disk), lower layers byte-for-byte unchanged, two containers
//! isolated, the overlay visible in the container's mountinfo and absent
//! from the host's, and the refusals.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{ChildStdout, Stdio};

/// The built-in rootfs plus two small layers: 2-app and 3-patch.
fn image(t: &TestRoot) -> Vec<PathBuf> {
    let base = t.rootfs();
    let files: [(&str, &str, &str); 4] = [
        ("2-app", "app/greeting", "hello\n"),
        ("2-app", "app/config", "color=blue\n"),
        ("3-patch", "app/config", "color=green\n"),
        ("3-patch", "app/VERSION", "3\n"),
    ];
    for (layer, rel, text) in files {
        let p = t.path().join("image").join(layer).join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    vec![
        base,
        t.path().join("image/2-app"),
        t.path().join("image/3-patch"),
    ]
}

fn layer_args(layers: &[PathBuf]) -> Vec<String> {
    layers
        .iter()
        .flat_map(|l| ["--layer".to_string(), l.display().to_string()])
        .collect()
}

/// Each entry of a tree with its mode, owner and content (or link target).
type Tree = BTreeMap<PathBuf, (u32, u32, Vec<u8>)>;

/// Read a whole tree from disk.
fn tree(dir: &Path) -> Tree {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().map(Result::unwrap) {
            let m = e.metadata().unwrap();
            let body = if m.is_file() {
                std::fs::read(e.path()).unwrap()
            } else if m.file_type().is_symlink() {
                std::fs::read_link(e.path())
                    .unwrap()
                    .into_os_string()
                    .into_encoded_bytes()
            } else {
                Vec::new()
            };
            if m.is_dir() {
                todo.push(e.path());
            }
            out.insert(
                e.path().strip_prefix(dir).unwrap().to_path_buf(),
                (m.mode(), m.uid(), body),
            );
        }
    }
    out
}

fn trees(layers: &[PathBuf]) -> Vec<Tree> {
    layers.iter().map(|l| tree(l)).collect()
}

const WRITES: &str = "echo changed > /app/config; rm /app/greeting; echo new > /app/new; cat /app/config /app/VERSION";

#[test]
fn writes_land_in_the_upper_dir_and_the_layers_stay_as_they_were() {
    let t = TestRoot::new();
    let layers = image(&t);
    let before = trees(&layers);
    let out = t
        .cmd("ch05-union")
        .args(layer_args(&layers))
        .args(["--keep", "--id", "c1", "--", "/bin/sh", "-c", WRITES])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "changed\n3\n");
    let upper = t.path().join("containers/c1/upper/app");
    assert_eq!(
        std::fs::read_to_string(upper.join("config")).unwrap(),
        "changed\n"
    );
    assert_eq!(std::fs::read_to_string(upper.join("new")).unwrap(), "new\n");
    let wh = std::fs::symlink_metadata(upper.join("greeting")).unwrap();
    assert!(
        wh.file_type().is_char_device() && wh.rdev() == 0,
        "greeting should be a 0/0 whiteout"
    );
    let mut names: Vec<String> = std::fs::read_dir(&upper)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["config", "greeting", "new"],
        "nothing else was copied up"
    );
    assert_eq!(trees(&layers), before, "a lower layer changed");
    let err = stderr(&out);
    assert!(
        err.contains("/app/config") && err.contains("copied up from layer 3"),
        "{err}"
    );
}

#[test]
fn the_container_dir_is_removed_unless_kept() {
    let t = TestRoot::new();
    let layers = image(&t);
    let out = t
        .cmd("ch05-union")
        .args(layer_args(&layers))
        .args(["--", "/bin/true"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let left: Vec<_> = std::fs::read_dir(t.path().join("containers"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// A container that writes `/app/mine`, prints READY, waits for a line on
/// stdin, then prints what it sees in /app.
fn start_waiting(
    t: &TestRoot,
    layers: &[PathBuf],
    id: &str,
    extra: &str,
) -> (Reaped, BufReader<ChildStdout>) {
    let script =
        format!("echo {id} > /app/mine; {extra} echo READY; read x; cat /app/mine; ls /app");
    let mut child = t
        .cmd("ch05-union")
        .args(layer_args(layers))
        .args(["--keep", "--id", id, "--", "/bin/sh", "-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    (Reaped(child), out)
}

/// Read lines until READY; return what came before it.
fn until_ready(out: &mut BufReader<ChildStdout>) -> Vec<String> {
    let mut seen = Vec::new();
    for line in out.lines() {
        let line = line.unwrap();
        if line == "READY" {
            return seen;
        }
        seen.push(line);
    }
    panic!("the container ended before READY; it printed {seen:?}");
}

fn release(g: &mut Reaped, mut out: BufReader<ChildStdout>) -> String {
    g.0.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(g.0.wait().unwrap().success());
    rest
}

#[test]
fn two_containers_at_once_see_only_their_own_changes() {
    let t = TestRoot::new();
    let layers = image(&t);
    let (mut ga, mut a) = start_waiting(&t, &layers, "a", "");
    let (mut gb, mut b) = start_waiting(&t, &layers, "b", "");
    // Both have written and are now alive at the same time.
    until_ready(&mut a);
    until_ready(&mut b);
    let (sa, sb) = (release(&mut ga, a), release(&mut gb, b));
    assert!(
        sa.starts_with("a\n") && sb.starts_with("b\n"),
        "{sa:?} {sb:?}"
    );
    for (id, seen) in [("a", &sa), ("b", &sb)] {
        let upper = t.path().join("containers").join(id).join("upper/app/mine");
        assert_eq!(std::fs::read_to_string(upper).unwrap(), format!("{id}\n"));
        assert!(
            seen.lines().any(|l| l == "mine") && seen.lines().any(|l| l == "greeting"),
            "{seen}"
        );
    }
    assert!(
        !layers.iter().any(|l| l.join("app/mine").exists()),
        "a write reached a lower layer"
    );
}

#[test]
fn the_overlay_is_mounted_in_the_containers_namespace_only() {
    let t = TestRoot::new();
    let layers = image(&t);
    let (mut g, mut out) = start_waiting(&t, &layers, "m1", "cat /proc/self/mountinfo;");
    let inside = until_ready(&mut out);
    let root = inside
        .iter()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .expect("a root mount");
    assert!(
        root.contains(" - overlay overlay "),
        "root is not an overlay: {root}"
    );
    let upper = t.path().join("containers/m1/upper");
    assert!(
        root.contains(&format!("upperdir={}", upper.display())),
        "{root}"
    );
    let host = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = t.path().join("containers/m1");
    assert!(
        !host.lines().any(|l| l.contains(dir.to_str().unwrap())),
        "the host sees a mount of the container:\n{host}"
    );
    release(&mut g, out);
}

#[test]
fn the_copy_driver_gives_the_same_view_from_a_full_copy() {
    let t = TestRoot::new();
    let layers = image(&t);
    let before = trees(&layers);
    let out = t
        .cmd("ch05-union")
        .args(layer_args(&layers))
        .args([
            "--driver", "copy", "--keep", "--id", "cp", "--", "/bin/sh", "-c", WRITES,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "changed\n3\n");
    let copy = t.path().join("containers/cp/rootfs");
    assert_eq!(
        std::fs::read_to_string(copy.join("app/config")).unwrap(),
        "changed\n"
    );
    assert!(!copy.join("app/greeting").exists());
    assert!(copy.join("bin").exists(), "the base layer was copied too");
    assert!(!t.path().join("containers/cp/upper").exists());
    assert_eq!(trees(&layers), before, "a lower layer changed");
}

/// A layer for the top of chapter 06's demo layers with what a layer dir
/// can hold besides files: overlay's whiteout (0/0) and opaque mark, a
/// symlink, a hard link, an xattr.
fn top_layer(dir: &Path) -> PathBuf {
    let l = dir.join("top");
    for d in ["etc/config", "srv", "usr/share/doc"] {
        std::fs::create_dir_all(l.join(d)).unwrap();
    }
    for gone in ["etc/motd", "usr/share/doc/README.link"] {
        nix::sys::stat::mknod(
            &l.join(gone),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .unwrap();
    }
    let opaque = rustix::fs::XattrFlags::empty();
    rustix::fs::lsetxattr(l.join("etc/config"), "trusted.overlay.opaque", b"y", opaque).unwrap();
    std::fs::write(l.join("etc/config/new.conf"), "new\n").unwrap();
    std::fs::write(l.join("srv/one"), "shared\n").unwrap();
    std::fs::hard_link(l.join("srv/one"), l.join("srv/two")).unwrap();
    rustix::fs::lsetxattr(l.join("srv/one"), "user.note", b"top", opaque).unwrap();
    std::os::unix::fs::symlink("usr/bin", l.join("bin")).unwrap();
    l
}

#[test]
fn the_copy_driver_builds_the_tree_the_overlay_merges() {
    use wharf::layer;
    use wharf::union::{Driver, Mounted, Rootfs};
    let t = TestRoot::new();
    let mut lowers = layer::demo::build(&t.path().join("layers")).unwrap();
    lowers.push(top_layer(&t.path().join("layers")));
    let before: Vec<layer::Manifest> = lowers.iter().map(|l| layer::manifest(l).unwrap()).collect();

    let ovl = Rootfs::prepare(Driver::Overlay, &lowers, &t.path().join("ovl")).unwrap();
    let mounted = Mounted::new(&ovl).unwrap();
    let merged = layer::manifest(&ovl.root()).unwrap();
    mounted.unmount().unwrap();
    let copy = Rootfs::prepare(Driver::Copy, &lowers, &t.path().join("copy")).unwrap();
    let copied = layer::manifest(&copy.root()).unwrap();

    let diff = merged.diff(&copied);
    assert!(
        diff.is_empty(),
        "overlay (-) and copy (+) differ:\n{}",
        diff.join("\n")
    );
    let n = |p: &str| {
        copied
            .nodes
            .get(Path::new(p))
            .unwrap_or_else(|| panic!("{p} missing from the copy"))
    };
    let caps = n("usr/bin/hello")
        .xattrs
        .iter()
        .find(|x| x.0 == "security.capability");
    assert_eq!(
        caps.map(|x| x.1.as_slice()),
        Some(&layer::demo::CAP_NET_BIND_SERVICE_EP[..]),
        "the file capability was lost"
    );
    assert_eq!(n("bin").kind, layer::tree::Kind::Symlink("usr/bin".into()));
    assert_eq!(
        n("srv/one").xattrs,
        [("user.note".to_string(), b"top".to_vec())]
    );
    for gone in [
        "etc/motd",
        "usr/share/doc/README.link",
        "etc/config/base.conf",
    ] {
        assert!(
            !copied.nodes.contains_key(Path::new(gone)),
            "{gone} should be hidden"
        );
    }
    assert!(copied.nodes.contains_key(Path::new("etc/config/new.conf")));
    let ino = |p: &str| std::fs::metadata(copy.root().join(p)).unwrap().ino();
    assert_eq!(ino("srv/one"), ino("srv/two"), "the hard link was split");
    assert!(!copy.dir.join("upper").exists());
    let after: Vec<layer::Manifest> = lowers.iter().map(|l| layer::manifest(l).unwrap()).collect();
    assert_eq!(after, before, "a lower layer changed");
}

/// A refusal: non-zero exit, one line naming the problem, no container left.
fn refused(t: &TestRoot, root: &Path, args: &[String]) -> String {
    let out = t
        .cmd("ch05-union")
        .env("WHARF_ROOT", root)
        .args(args)
        .args(["--", "/bin/true"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(!out.status.success(), "should fail: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    let containers = root.join("containers");
    let left = std::fs::read_dir(&containers)
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(
        left,
        0,
        "a container dir was left in {}",
        containers.display()
    );
    err
}

/// Mount a filesystem for a test under its root (TestRoot unmounts it).
fn mount_at(t: &TestRoot, name: &str, fstype: &str, data: Option<&str>) -> PathBuf {
    let dir = t.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    nix::mount::mount(
        Some(fstype),
        &dir,
        Some(fstype),
        nix::mount::MsFlags::empty(),
        data,
    )
    .unwrap();
    dir
}

#[test]
fn an_upper_dir_on_overlay_is_refused() {
    let t = TestRoot::new();
    let layers = image(&t);
    let p = t.path().join("ovl");
    for d in ["l", "u", "w"] {
        std::fs::create_dir_all(p.join(d)).unwrap();
    }
    let opts = format!("lowerdir={0}/l,upperdir={0}/u,workdir={0}/w", p.display());
    let merged = mount_at(&t, "ovl/m", "overlay", Some(&opts));
    let err = refused(&t, &merged.join("state"), &layer_args(&layers));
    assert!(
        err.contains("is on overlay") && err.contains("upper dir"),
        "{err}"
    );
}

#[test]
fn a_filesystem_without_xattrs_is_refused_as_upper() {
    let t = TestRoot::new();
    let layers = image(&t);
    let ram = mount_at(&t, "ram", "ramfs", None);
    let err = refused(&t, &ram, &layer_args(&layers));
    assert!(err.contains("ramfs") && err.contains("xattrs"), "{err}");
}

#[test]
fn an_upper_dir_on_a_read_only_mount_is_refused_before_mounting() {
    use wharf::union::{Driver, Rootfs};
    let t = TestRoot::new();
    let layers = image(&t);
    // A container dir made while the filesystem was writable, then the
    // filesystem remounted read-only under it.
    let ro = mount_at(&t, "ro", "tmpfs", None);
    let dir = ro.join("containers/c1");
    std::fs::create_dir_all(&dir).unwrap();
    let remount = nix::mount::MsFlags::MS_REMOUNT | nix::mount::MsFlags::MS_RDONLY;
    nix::mount::mount(None::<&str>, &ro, None::<&str>, remount, None::<&str>).unwrap();
    let err = Rootfs::prepare(Driver::Overlay, &layers, &dir)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("read-only mount") && err.contains("upper dir"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "something was made"
    );
}

#[test]
fn more_layers_than_the_kernel_stacks_are_refused() {
    let t = TestRoot::new();
    let many = t.path().join("many");
    for i in 0..501 {
        std::fs::create_dir_all(many.join(format!("{i:03}"))).unwrap();
    }
    let err = refused(
        &t,
        t.path(),
        &["--layers".into(), many.display().to_string()],
    );
    assert!(
        err.contains("501 layers") && err.contains("OVL_MAX_STACK"),
        "{err}"
    );
}

#[test]
fn a_missing_layer_is_refused() {
    let t = TestRoot::new();
    let err = refused(&t, t.path(), &["--layer".into(), "/no/such/layer".into()]);
    assert!(
        err.contains("/no/such/layer") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn explain_transcript() {
    let t = TestRoot::new();
    let layers = image(&t);
    let out = t
        .cmd("ch05-union")
        .args(["--explain", "--id", "snap", "--hostname", "box"])
        .args(layer_args(&layers))
        .args(["--", "/bin/sh", "-c", "echo changed > /app/config"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!(
        snapshot_name("ch05_explain"),
        redact(&stderr(&out), t.path())
    );
}

#[test]
fn the_demo_shows_copy_on_write_and_leaves_no_container_behind() {
    let t = TestRoot::new();
    t.rootfs();
    let out = t.run("ch05-union", &["--demo", "--containers", "2"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains("A:   /app/config") && text.contains("copied up from layer 3"),
        "{text}"
    );
    assert!(
        text.contains("B:   /app/b.txt") && !text.contains("B:   /app/config"),
        "{text}"
    );
    let overlay = demo_bytes(&text, "overlay");
    let copy = demo_bytes(&text, "copy");
    assert!(
        copy > overlay,
        "copy ({copy} B) should take more disk than overlay ({overlay} B):\n{text}"
    );
    // Each copy holds the whole image; the rounding of "4.0 MiB" aside.
    let image = wharf::union::disk_usage(&t.path().join("rootfs")).unwrap();
    assert!(
        copy as f64 >= 0.9 * 2.0 * image as f64,
        "2 copies take {copy} B, the base layer alone {image} B:\n{text}"
    );
    let ratio: f64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("copy / overlay:"))
        .and_then(|l| {
            l.split(", ")
                .nth(1)?
                .strip_suffix("x the bytes")?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no bytes ratio in:\n{text}"));
    assert!(ratio > 1.0, "{text}");
    let left = std::fs::read_dir(t.path().join("containers"))
        .unwrap()
        .count();
    assert_eq!(left, 0, "the demo left container dirs behind");
}

/// The demo's "on disk" column for `driver`: `  copy  0.15 s  4.0 MiB  2.0 MiB`.
fn demo_bytes(text: &str, driver: &str) -> u64 {
    let row: Vec<&str> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|w| w.len() == 7 && w[0] == driver && w[2] == "s")
        .unwrap_or_else(|| panic!("no {driver} row in:\n{text}"));
    let n: f64 = row[3].parse().unwrap();
    let unit = match row[4] {
        "B" => 1u64,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        u => panic!("unknown unit {u} in {row:?}"),
    };
    (n * unit as f64) as u64
}

/// Chapter 04's exec is still here: a process exec'd into a ch05 container
/// reads what the container wrote into its overlay (seen nowhere on the
/// host but in the upper dir), and runs in its cgroup.
#[test]
fn exec_enters_the_containers_overlay_and_cgroup() {
    let t = TestRoot::new();
    let mut args = layer_args(&image(&t));
    args.extend(["--id", "ex", "--pids-limit", "20", "--"].map(String::from));
    args.extend(["/bin/sh", "-c", "echo inside > /made; exec sleep 30"].map(String::from));
    let run = t.cmd("ch05-union").args(&args).spawn().unwrap();
    let parent = run.id();
    let _run = Reaped(run);
    let target = wait_for_child(parent, "sleep");
    let upper = t.path().join("containers/ex/upper/made");
    let start = std::time::Instant::now();
    while !upper.exists() && start.elapsed().as_secs() < 5 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = t.run(
        "ch05-union",
        &[
            "exec",
            &target.to_string(),
            "--",
            "/bin/sh",
            "-c",
            "cat /made; cat /proc/self/cgroup",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.lines().next(), Some("inside"), "{text}");
    // In the container's cgroup namespace, its own cgroup is `/`.
    let cgroups: Vec<&str> = text.lines().skip(1).collect();
    assert!(!cgroups.is_empty(), "no /proc/self/cgroup lines: {text}");
    assert!(cgroups.iter().all(|l| l.ends_with(":/")), "{text}");
    let refused = t.run("ch05-union", &["--keep", "exec", "1", "--", "/bin/true"]);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(stderr(&refused).lines().count(), 1, "{}", stderr(&refused));
}
