//! The README's main job: `wharf tour` runs chapters 01–04 on the built-in
//! rootfs, and leaves no mount or cgroup of its own behind.

mod common;

use common::{our_mounts, stderr, stdout, TestRoot};

/// The cgroups below this state root's tag, in every hierarchy.
fn our_cgroups(t: &TestRoot) -> Vec<String> {
    let tag = wharf::paths::host_tag_for(t.path());
    let hierarchies = std::fs::read_dir("/sys/fs/cgroup").expect("/sys/fs/cgroup");
    let mut left = vec![];
    for h in hierarchies.flatten() {
        let Ok(kids) = std::fs::read_dir(h.path().join(&tag)) else {
            continue;
        };
        let dirs = kids.flatten().filter(|e| e.path().is_dir());
        left.extend(dirs.map(|e| e.path().display().to_string()));
    }
    left
}

#[test]
fn the_tour_runs_every_stop_and_leaves_nothing() {
    let t = TestRoot::new();
    let out = t.run("wharf", &["tour"]);
    let said = stdout(&out);
    assert!(out.status.success(), "{said}{}", stderr(&out));
    for stop in ["01 chroot", "02 namespaces", "03 setns", "04 cgroups"] {
        assert!(said.contains(stop), "the tour skipped {stop}:\n{said}");
    }
    // Every command of the tour ran to its end with status 0.
    let statuses: Vec<&str> = said
        .lines()
        .filter(|l| l.starts_with("(exit status"))
        .collect();
    assert!(statuses.len() >= 4, "{said}");
    assert!(
        statuses.iter().all(|l| *l == "(exit status 0)"),
        "{statuses:?}"
    );
    assert_eq!(
        our_cgroups(&t),
        Vec::<String>::new(),
        "cgroups left by the tour"
    );
    assert_eq!(
        our_mounts(&t),
        Vec::<String>::new(),
        "mounts left by the tour"
    );
}
