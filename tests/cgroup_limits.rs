//! The cgroup limit writers (`Cgroup::create_in`), judged by the bytes in
//! the cgroup files and by the journal's steps.
//!
//! Two kinds of tree:
//! - copies of the fixture trees (tests/fixtures/cgroup/{v1,v2,hybrid}),
//!   no root needed. A plain directory is not a cgroupfs: `mkdir` there
//!   makes no control files, and the writers open a knob without creating
//!   it (the kernel never lets one be created), so against a fixture the
//!   first limit write fails with ENOENT. What these tests judge is what
//!   comes before and after that write: the order, v2's subtree_control,
//!   and that a failed create leaves the tree as it was.
//! - the real kernel (root): the host's hierarchies, and on a v1 or hybrid
//!   host also a tree laid out like the v1 fixture (co-mounted
//!   `cpu,cpuacct` with `cpu` and `cpuacct` symlinks) whose entries lead to
//!   the real hierarchies. There the kernel keeps the bytes we assert.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, Once};

use wharf::cgroup::{Cgroup, LimitArgs, Limits};
use wharf::probe::cgroup::{CgroupMode, Cgroupfs};
use wharf::sys::journal::{self, Step};

/// The journal is process-wide, and `paths::host_tag()` reads WHARF_ROOT:
/// these tests take turns.
static TURN: Mutex<()> = Mutex::new(());
static STEPS: Mutex<Vec<Step>> = Mutex::new(Vec::new());
static OBSERVE: Once = Once::new();

fn turn() -> MutexGuard<'static, ()> {
    OBSERVE.call_once(|| {
        journal::observe(Box::new(|s: &Step| {
            STEPS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(s.clone())
        }))
    });
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// The steps recorded since `mark` whose first argument names a path
/// containing `within`, as (syscall, first argument, second, errno).
fn steps_since(mark: usize, within: &str) -> Vec<(String, String, String, Option<String>)> {
    STEPS.lock().unwrap_or_else(|e| e.into_inner())[mark..]
        .iter()
        .filter(|s| s.args.first().is_some_and(|a| a.contains(within)))
        .map(|s| {
            (
                s.syscall.clone(),
                s.args[0].trim_matches('"').to_string(),
                s.args
                    .get(1)
                    .map(|a| a.trim_matches('"').to_string())
                    .unwrap_or_default(),
                s.errno.clone(),
            )
        })
        .collect()
}

fn mark() -> usize {
    STEPS.lock().unwrap_or_else(|e| e.into_inner()).len()
}

/// `--cpus 0.5 --memory 64m --pids-limit 20`, checked as the chapters check it.
fn limits() -> Limits {
    LimitArgs {
        cpus: Some("0.5".into()),
        memory: Some("64m".into()),
        pids_limit: Some("20".into()),
        ..LimitArgs::default()
    }
    .parse()
    .expect("valid limits")
}

fn fixture(mode: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cgroup")
        .join(mode)
}

/// Copy a tree, keeping symlinks as symlinks (v1's `cpu -> cpu,cpuacct`).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let (src, dst) = (e.path(), to.join(e.file_name()));
        let kind = e.file_type().unwrap();
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if kind.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// Every entry below `dir` with its kind and content, for before/after.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.file_type().is_symlink() {
                out.push(format!(
                    "{rel} -> {}",
                    std::fs::read_link(&p).unwrap().display()
                ));
            } else if meta.is_dir() {
                out.push(format!("{rel}/"));
                walk(base, &p, out);
            } else {
                out.push(format!(
                    "{rel} = {:?}",
                    std::fs::read_to_string(&p).unwrap()
                ));
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A fixture copied into a fresh temporary directory (removed on drop).
fn copied(mode: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join(mode);
    copy_tree(&fixture(mode), &root);
    (tmp, root)
}

/// A v1 or hybrid fixture: the hierarchies are made for the tag and the
/// leaf, the first write is the CPU period (the kernel checks a quota
/// against the period in force), it fails there with ENOENT (no knob in a
/// plain directory), and everything made is removed again.
fn v1_like(mode: &str, m: CgroupMode, hierarchies: &[&str]) {
    let _t = turn();
    let (_tmp, root) = copied(mode);
    let before = listing(&root);
    let tag = wharf::paths::host_tag();
    let at = mark();
    let err = Cgroup::create_in(Cgroupfs::at(&root, m), "limits", &limits())
        .expect_err("a plain directory has no cpu.cfs_period_us to write")
        .to_string();
    let period = root
        .join(hierarchies[0])
        .join(&tag)
        .join("limits/cpu.cfs_period_us");
    assert!(
        err.contains(&format!("write(\"{}\", \"100000\")", period.display()))
            && err.contains("ENOENT"),
        "{err}"
    );
    let steps = steps_since(at, root.to_str().unwrap());
    let made: Vec<String> = hierarchies
        .iter()
        .flat_map(|h| {
            let tag_dir = root.join(h).join(&tag);
            [
                tag_dir.display().to_string(),
                tag_dir.join("limits").display().to_string(),
            ]
        })
        .collect();
    let mkdirs: Vec<&str> = steps
        .iter()
        .filter(|s| s.0 == "mkdir")
        .map(|s| s.1.as_str())
        .collect();
    assert_eq!(
        mkdirs, made,
        "one tag dir and one leaf per hierarchy: {steps:#?}"
    );
    let writes: Vec<_> = steps.iter().filter(|s| s.0 == "write").collect();
    assert_eq!(
        writes.len(),
        1,
        "nothing is written after a failed write: {steps:#?}"
    );
    assert_eq!(
        (
            writes[0].1.as_str(),
            writes[0].2.as_str(),
            writes[0].3.as_deref()
        ),
        (period.to_str().unwrap(), "100000", Some("ENOENT")),
        "the period first"
    );
    let mut rmdirs: Vec<&str> = steps
        .iter()
        .filter(|s| s.0 == "rmdir" && s.3.is_none())
        .map(|s| s.1.as_str())
        .collect();
    rmdirs.sort();
    let mut want: Vec<&str> = made.iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(rmdirs, want, "every directory made is removed: {steps:#?}");
    assert_eq!(listing(&root), before, "the tree is as it was");
}

#[test]
fn v1_fixture_writes_the_period_first_and_a_failed_create_leaves_nothing() {
    // cpu and cpuacct are symlinks to the co-mounted cpu,cpuacct: one directory.
    v1_like("v1", CgroupMode::V1, &["cpu,cpuacct", "memory", "pids"]);
}

#[test]
fn hybrid_fixture_uses_each_v1_hierarchy_and_leaves_unified_alone() {
    v1_like(
        "hybrid",
        CgroupMode::Hybrid,
        &["cpu", "cpuacct", "memory", "pids"],
    );
}

/// v2: the root already hands cpu, memory and pids down (the fixture's
/// subtree_control), so it is not written; the tag directory (made here
/// with the cgroup.controllers the kernel would give it) gets `+cpu
/// +memory +pids`; then the leaf, whose first knob is cpu.max.
#[test]
fn v2_fixture_enables_controllers_in_the_parent_then_writes_cpu_max() {
    let _t = turn();
    let (_tmp, root) = copied("v2");
    let tag = wharf::paths::host_tag();
    let tag_dir = root.join(&tag);
    std::fs::create_dir(&tag_dir).unwrap();
    std::fs::write(tag_dir.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
    std::fs::write(tag_dir.join("cgroup.subtree_control"), "").unwrap();
    let before = listing(&root);
    let at = mark();
    let err = Cgroup::create_in(Cgroupfs::at(&root, CgroupMode::V2), "limits", &limits())
        .expect_err("a plain directory has no cpu.max to write")
        .to_string();
    let leaf = tag_dir.join("limits");
    assert!(err.contains("cpu.max") && err.contains("ENOENT"), "{err}");

    assert_eq!(
        std::fs::read_to_string(tag_dir.join("cgroup.subtree_control")).unwrap(),
        "+cpu +memory +pids",
        "the parent of the leaf hands the three controllers down"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("cgroup.subtree_control")).unwrap(),
        "cpu memory pids\n",
        "the root already enabled them: left as it was"
    );
    let steps = steps_since(at, root.to_str().unwrap());
    let calls: Vec<(&str, &str, &str, Option<&str>)> = steps
        .iter()
        .filter(|s| s.0 != "rmdir" || s.3.is_none())
        .map(|s| (s.0.as_str(), s.1.as_str(), s.2.as_str(), s.3.as_deref()))
        .collect();
    let subtree = tag_dir.join("cgroup.subtree_control");
    let cpu_max = leaf.join("cpu.max");
    assert_eq!(
        calls,
        [
            (
                "write",
                subtree.to_str().unwrap(),
                "+cpu +memory +pids",
                None
            ),
            ("mkdir", leaf.to_str().unwrap(), "0755", None),
            (
                "write",
                cpu_max.to_str().unwrap(),
                "50000 100000",
                Some("ENOENT")
            ),
            ("rmdir", leaf.to_str().unwrap(), "", None),
        ],
        "{steps:#?}"
    );
    // Only the subtree_control write stays; the leaf is gone.
    let mut after = listing(&root);
    let mut expect = before.clone();
    let line = format!("{tag}/cgroup.subtree_control = ");
    after.retain(|l| !l.starts_with(&line));
    expect.retain(|l| !l.starts_with(&line));
    assert_eq!(after, expect);
    assert!(!leaf.exists());
}

/// v2 with a root that enables only memory: only the missing two are added.
#[test]
fn v2_fixture_adds_only_the_missing_controllers() {
    let _t = turn();
    let (_tmp, root) = copied("v2");
    std::fs::write(root.join("cgroup.subtree_control"), "memory\n").unwrap();
    let tag_dir = root.join(wharf::paths::host_tag());
    std::fs::create_dir(&tag_dir).unwrap();
    std::fs::write(tag_dir.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
    std::fs::write(tag_dir.join("cgroup.subtree_control"), "cpu memory pids\n").unwrap();
    let at = mark();
    let _ = Cgroup::create_in(Cgroupfs::at(&root, CgroupMode::V2), "limits", &limits());
    let writes: Vec<(String, String)> = steps_since(at, root.to_str().unwrap())
        .into_iter()
        .filter(|s| s.0 == "write" && s.1.ends_with("cgroup.subtree_control"))
        .map(|s| (s.1, s.2))
        .collect();
    assert_eq!(
        writes,
        [(
            root.join("cgroup.subtree_control").display().to_string(),
            "+cpu +pids".to_string()
        )],
        "the tag dir already hands all three down: not written"
    );
}

/// A controller missing from the parent's cgroup.controllers is named
/// before any cgroup is made.
#[test]
fn v2_fixture_without_a_controller_is_refused_before_mkdir() {
    let _t = turn();
    let (_tmp, root) = copied("v2");
    std::fs::write(root.join("cgroup.controllers"), "cpu io pids\n").unwrap();
    let before = listing(&root);
    let err = Cgroup::create_in(Cgroupfs::at(&root, CgroupMode::V2), "limits", &limits())
        .expect_err("no memory controller")
        .to_string();
    assert!(
        err.contains("the memory controller is not available"),
        "{err}"
    );
    assert_eq!(listing(&root), before, "nothing made");
}

/// v2: when the step after making the tag directory fails (here: the tag
/// directory is a plain one, with no cgroup.controllers), the tag directory
/// that create_in made must go too — "nothing left behind".
#[test]
fn v2_fixture_failure_after_the_tag_dir_leaves_nothing() {
    let _t = turn();
    let (_tmp, root) = copied("v2");
    let before = listing(&root);
    let err = Cgroup::create_in(Cgroupfs::at(&root, CgroupMode::V2), "limits", &limits())
        .expect_err("the tag dir has no cgroup.controllers")
        .to_string();
    assert!(!err.is_empty());
    assert_eq!(
        listing(&root),
        before,
        "create_in failed ({err}) and left this behind"
    );
}

/// Sets WHARF_ROOT for this process while alive, so `create_in` names its
/// cgroups after the test's own state root (which TestRoot's drop resets).
struct StateRootEnv;
impl StateRootEnv {
    fn set(root: &Path) -> StateRootEnv {
        std::env::set_var("WHARF_ROOT", root);
        StateRootEnv
    }
}
impl Drop for StateRootEnv {
    fn drop(&mut self) {
        std::env::remove_var("WHARF_ROOT");
    }
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}/{file}: {e}", dir.display()))
}

/// Create, check what the kernel holds, remove, check it is gone.
fn on_the_kernel(fs: Cgroupfs, id: &str) {
    let v2 = fs.mode == CgroupMode::V2;
    let at = mark();
    let cg = Cgroup::create_in(fs, id, &limits()).expect("create the cgroup");
    let dirs = cg.dirs().clone();
    let (cpu, memory, pids) = (
        dirs.cpu.clone().unwrap(),
        dirs.memory.clone().unwrap(),
        dirs.pids.clone().unwrap(),
    );
    let steps = steps_since(at, id);
    let written: Vec<(String, String)> = steps
        .iter()
        .filter(|s| s.0 == "write")
        .map(|s| {
            let file = Path::new(&s.1)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (file, s.2.clone())
        })
        .collect();
    let w = |f: &str, v: &str| (f.to_string(), v.to_string());
    if v2 {
        assert_eq!(read(&cpu, "cpu.max"), "50000 100000\n");
        assert_eq!(read(&memory, "memory.max"), "67108864\n");
        assert_eq!(read(&pids, "pids.max"), "20\n");
        let mut want = vec![w("cpu.max", "50000 100000"), w("memory.max", "67108864")];
        if cpu.join("memory.swap.max").exists() {
            assert_eq!(read(&memory, "memory.swap.max"), "0\n");
            want.push(w("memory.swap.max", "0"));
        }
        want.push(w("pids.max", "20"));
        assert_eq!(written, want, "{steps:#?}");
        let parent = cpu.parent().unwrap();
        let enabled = read(parent, "cgroup.subtree_control");
        for c in ["cpu", "memory", "pids"] {
            assert!(
                enabled.split_whitespace().any(|e| e == c),
                "{c} not enabled in {}: {enabled}",
                parent.display()
            );
        }
    } else {
        assert_eq!(read(&cpu, "cpu.cfs_period_us"), "100000\n");
        assert_eq!(read(&cpu, "cpu.cfs_quota_us"), "50000\n");
        assert_eq!(read(&memory, "memory.limit_in_bytes"), "67108864\n");
        assert_eq!(read(&pids, "pids.max"), "20\n");
        let mut want = vec![
            w("cpu.cfs_period_us", "100000"),
            w("cpu.cfs_quota_us", "50000"),
            w("memory.limit_in_bytes", "67108864"),
        ];
        if memory.join("memory.memsw.limit_in_bytes").exists() {
            assert_eq!(
                read(&memory, "memory.memsw.limit_in_bytes"),
                "67108864\n",
                "no swap on top"
            );
            want.push(w("memory.memsw.limit_in_bytes", "67108864"));
        }
        want.push(w("pids.max", "20"));
        assert_eq!(written, want, "the period before the quota: {steps:#?}");
    }
    cg.remove().expect("remove the cgroup");
    for d in dirs.unique() {
        assert!(!d.exists(), "{} is still there", d.display());
    }
}

#[test]
fn limits_reach_the_kernels_files() {
    let _t = turn();
    let t = common::TestRoot::new();
    let _env = StateRootEnv::set(t.path());
    assert_eq!(
        wharf::paths::host_tag(),
        wharf::paths::host_tag_for(t.path())
    );
    let system = Cgroupfs::system().expect("the host's cgroupfs");
    let mode = system.mode;
    on_the_kernel(system.clone(), "limits-host");
    if mode == CgroupMode::V2 {
        eprintln!(
            "NOTE: pure cgroup v2 host: only the host half of this test ran; the v1 fixture half needs a v1/hybrid host"
        );
        return;
    }
    // The v1 fixture's layout (co-mounted cpu,cpuacct, symlinks beside it)
    // leading to the real hierarchies.
    let tree = t.path().join("v1-layout");
    std::fs::create_dir(&tree).unwrap();
    let real = |c: &str| {
        let h = system
            .v1_hierarchy(c)
            .unwrap_or_else(|| panic!("no v1 {c} hierarchy"));
        std::fs::canonicalize(h).unwrap()
    };
    std::os::unix::fs::symlink(real("cpu"), tree.join("cpu,cpuacct")).unwrap();
    std::os::unix::fs::symlink("cpu,cpuacct", tree.join("cpu")).unwrap();
    std::os::unix::fs::symlink("cpu,cpuacct", tree.join("cpuacct")).unwrap();
    std::os::unix::fs::symlink(real("memory"), tree.join("memory")).unwrap();
    std::os::unix::fs::symlink(real("pids"), tree.join("pids")).unwrap();
    let fs = Cgroupfs::at(&tree, CgroupMode::V1);
    let dirs = fs.dirs(Path::new("x"));
    assert_eq!(
        dirs.cpu, dirs.cpuacct,
        "one directory for the co-mounted pair"
    );
    on_the_kernel(fs, "limits-v1");
}
