//! The cgroup probe against fixture trees laid out as the kernel lays out
//! cgroup v1 (cpu,cpuacct co-mounted with symlinks), v2 (one tree) and
//! hybrid (separate cpu and cpuacct, an empty cgroup2 tree at unified/).
//! No root needed: these are plain files.

use std::path::{Path, PathBuf};

use wharf::probe::cgroup::{self, CgroupMode, Cgroupfs, CpuStat, MemoryStat, PidsStat};

fn fixture(mode: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cgroup")
        .join(mode)
}

fn fs(mode: &str, m: CgroupMode) -> Cgroupfs {
    Cgroupfs::at(fixture(mode), m)
}

fn proc_cgroup(mode: &str) -> String {
    std::fs::read_to_string(fixture(mode).join("proc_pid_cgroup")).unwrap()
}

#[test]
fn v2_limits_and_usage() {
    let s = cgroup::stats(&fs("v2", CgroupMode::V2).dirs(Path::new("wharf-test/box")));
    let cpu = CpuStat {
        quota_us: Some(20_000),
        period_us: 100_000,
        usage_us: Some(612_345),
        nr_throttled: 29,
        throttled_us: 2_403_000,
    };
    assert_eq!(s.cpu, Some(cpu));
    assert_eq!(
        s.memory,
        Some(MemoryStat {
            limit: Some(64 << 20),
            usage: 3_250_176,
            oom_kills: 1
        })
    );
    assert_eq!(
        s.pids,
        Some(PidsStat {
            max: Some(32),
            current: 2,
            refused: 57
        })
    );
}

#[test]
fn v1_reads_each_hierarchy_and_converts_nanoseconds() {
    let fs = fs("v1", CgroupMode::V1);
    let dirs = fs.dirs(Path::new("wharf-test/box"));
    // cpu and cpuacct are symlinks to one co-mounted hierarchy.
    assert_eq!(dirs.cpu, dirs.cpuacct);
    assert_eq!(dirs.unique().len(), 3);
    let s = cgroup::stats(&dirs);
    let cpu = CpuStat {
        quota_us: Some(50_000),
        period_us: 100_000,
        usage_us: Some(1_500_000),
        nr_throttled: 12,
        throttled_us: 480_000,
    };
    assert_eq!(s.cpu, Some(cpu));
    assert_eq!(
        s.memory,
        Some(MemoryStat {
            limit: Some(512 << 20),
            usage: 1 << 20,
            oom_kills: 0
        })
    );
    assert_eq!(
        s.pids,
        Some(PidsStat {
            max: None,
            current: 5,
            refused: 0
        })
    );
}

#[test]
fn hybrid_uses_v1_controllers_and_knows_unlimited() {
    let fs = fs("hybrid", CgroupMode::Hybrid);
    assert_eq!(fs.unified(), Some(fixture("hybrid").join("unified")));
    let dirs = fs.dirs(Path::new("wharf-test/box"));
    assert!(!dirs.v2);
    assert_eq!(
        dirs.unique().len(),
        4,
        "separate cpu and cpuacct hierarchies"
    );
    let s = cgroup::stats(&dirs);
    let cpu = s.cpu.unwrap();
    assert_eq!((cpu.quota_us, cpu.usage_us), (None, Some(250_000)));
    // v1's "no limit" is the largest page-aligned i64.
    assert_eq!(
        s.memory,
        Some(MemoryStat {
            limit: None,
            usage: 32 << 20,
            oom_kills: 3
        })
    );
    assert_eq!(
        s.pids,
        Some(PidsStat {
            max: Some(100),
            current: 7,
            refused: 4
        })
    );
}

#[test]
fn v1_rows_cover_our_controllers_only() {
    let rows = cgroup::rows_in(&fs("v1", CgroupMode::V1), &proc_cgroup("v1"));
    let names: Vec<&str> = rows.iter().map(|r| r.hierarchy.as_str()).collect();
    // devices and name=systemd carry no limits we read; pure v1 has no unified tree.
    assert_eq!(names, ["pids", "memory", "cpu,cpuacct"]);
    assert_eq!(rows[2].limits, "cpu 50000/100000us");
    assert_eq!(rows[2].usage, "cpu 1.50s (throttled 12x)");
    assert_eq!(rows[1].limits, "memory 512M");
    assert_eq!(rows[0].limits, "-");
    assert_eq!(rows[0].path, "/wharf-test/box");
}

#[test]
fn v2_row_is_one_line_with_everything() {
    let rows = cgroup::rows_in(&fs("v2", CgroupMode::V2), &proc_cgroup("v2"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].hierarchy, "unified");
    assert_eq!(rows[0].limits, "cpu 20000/100000us, memory 64M, pids 32");
    assert_eq!(
        rows[0].usage,
        "cpu 0.61s (throttled 29x), memory 3.1M (oom kills 1), pids 2 (forks refused 57)"
    );
}

#[test]
fn hybrid_rows_include_the_empty_unified_tree() {
    let rows = cgroup::rows_in(&fs("hybrid", CgroupMode::Hybrid), &proc_cgroup("hybrid"));
    let names: Vec<&str> = rows.iter().map(|r| r.hierarchy.as_str()).collect();
    assert_eq!(names, ["pids", "memory", "cpuacct", "cpu", "unified"]);
    // No controller is enabled in the hybrid cgroup2 tree: nothing to limit.
    assert_eq!(rows[4].limits, "-");
    assert_eq!(rows[3].limits, "-");
    assert_eq!(rows[2].usage, "cpu 0.25s");
    assert_eq!(rows[1].usage, "memory 32M (oom kills 3)");
}

#[test]
fn controller_lists_read_from_v2_files() {
    let root = fixture("v2");
    assert_eq!(
        cgroup::controller_list(&root, "cgroup.subtree_control").unwrap(),
        ["cpu", "memory", "pids"]
    );
    assert!(cgroup::controller_list(&root, "cgroup.controllers")
        .unwrap()
        .contains(&"hugetlb".to_string()));
    assert_eq!(cgroup::children(&root).unwrap(), [root.join("wharf-test")]);
}

#[test]
fn this_host_mode_is_detected() {
    // Whatever the host is, detection must agree with the kernel's mounts:
    // a cgroup2 root means v2.
    let mode = cgroup::detect(Path::new(cgroup::SYSTEM_ROOT)).unwrap();
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root_is_cgroup2 = info
        .lines()
        .any(|l| l.contains(" /sys/fs/cgroup ") && l.contains(" - cgroup2 "));
    assert_eq!(mode == CgroupMode::V2, root_is_cgroup2);
}
