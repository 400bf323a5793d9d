//! `wharf run -v` and `--tmpfs`, judged from the kernel's side: the
//! container's own mountinfo shows the bind (read-only where asked) and
//! the tmpfs, bytes written land in the host directory or the volume's
//! `_data`, `wharf volume rm` refuses a volume a container uses, `rm -v`
//! drops anonymous volumes, and bad flags leave nothing behind.

mod common;
mod lifecycle_common;

use lifecycle_common::{stderr, Life};

#[test]
fn binds_named_anonymous_and_tmpfs_mounts() {
    let l = Life::new();
    let host = l.t.path().join("hostdir");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("h"), "from host\n").unwrap();
    let bind = format!("{}:/h:ro", host.display());
    let mount = format!("type=bind,source={},target=/m,readonly", host.display());
    let script = "cat /h/h; echo v > /data/v; echo a > /anon/a; \
                  touch /h/y 2>/dev/null && echo WROTE; \
                  cat /proc/self/mountinfo; echo ready; sleep 100";
    let id = l.ok(&[
        "run",
        "-d",
        "--name",
        "vols",
        "-v",
        &bind,
        "-v",
        "data:/data",
        "-v",
        "/anon",
        "--tmpfs",
        "/scratch:size=1m",
        "--mount",
        &mount,
        "box",
        "sh",
        "-c",
        script,
    ]);
    l.until(10, "the script", || {
        l.ok(&["logs", "vols"]).contains("ready")
    });
    let logs = l.ok(&["logs", "vols"]);
    assert!(logs.starts_with("from host\n"), "{logs}");
    assert!(!logs.contains("WROTE"), "a :ro bind was writable");
    // The container's mount table: fields 5 (mount point), 6 (options),
    // then after " - " the fs type.
    let mount = |target: &str| -> (String, String) {
        let line = logs
            .lines()
            .find(|l| l.split_whitespace().nth(4) == Some(target))
            .unwrap_or_else(|| panic!("no mount at {target}:\n{logs}"));
        let f: Vec<&str> = line.split_whitespace().collect();
        let fstype = line
            .split(" - ")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap();
        (f[5].to_string(), fstype.to_string())
    };
    assert!(mount("/h").0.split(',').any(|o| o == "ro"));
    assert!(mount("/m").0.split(',').any(|o| o == "ro"));
    assert!(mount("/data").0.split(',').any(|o| o == "rw"));
    let (opts, fstype) = mount("/scratch");
    assert_eq!(fstype, "tmpfs");
    assert!(opts.contains("noexec") && opts.contains("nosuid"), "{opts}");
    // The bytes are in the volumes, not in the container's upper dir.
    let vols = l.t.path().join("volumes");
    assert_eq!(
        std::fs::read_to_string(vols.join("data/_data/v")).unwrap(),
        "v\n"
    );
    let upper = l.containers_dir().join(&id).join("upper");
    assert!(!upper.join("data/v").exists() && !upper.join("anon/a").exists());
    let anon: Vec<_> = std::fs::read_dir(&vols)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name() != "data" && e.path().join("_data/a").is_file())
        .map(|e| e.path())
        .collect();
    assert_eq!(anon.len(), 1, "one anonymous volume holds /anon");

    // inspect tells the same: Docker's Mounts and HostConfig.Tmpfs.
    let v = l.inspect("vols");
    let by_dest = |d: &str| {
        v["Mounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["Destination"] == d)
            .cloned()
            .unwrap_or_else(|| panic!("no mount {d} in {v}"))
    };
    assert_eq!(
        (by_dest("/h")["Type"].clone(), by_dest("/h")["RW"].clone()),
        ("bind".into(), false.into())
    );
    assert_eq!(by_dest("/data")["Name"], "data");
    assert_eq!(v["HostConfig"]["Tmpfs"]["/scratch"], "size=1m");

    // --volumes-from shares them (read-only here), it does not copy.
    let script = "cat /data/v /anon/a; touch /data/z 2>/dev/null && echo WROTE; true";
    let out = l.ok(&[
        "run",
        "--rm",
        "--volumes-from",
        "vols:ro",
        "box",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(out, "v\na");
    assert!(!vols.join("data/_data/z").exists());
    assert!(
        anon[0].exists(),
        "--rm of a borrower removed the owner's anonymous volume"
    );

    // In use: refused, and the data stays.
    let out = l.wharf(&["volume", "rm", "data"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("in use"), "{}", stderr(&out));
    assert!(vols.join("data/_data/v").is_file());
    // rm -v drops the anonymous volume; the named one stays, now free.
    l.ok(&["rm", "-f", "-v", "vols"]);
    assert!(!anon[0].exists(), "rm -v left the anonymous volume");
    l.ok(&["volume", "rm", "data"]);
    assert!(!vols.join("data").exists());
    assert_eq!(l.leftovers(), Vec::<String>::new());
}

#[test]
fn bad_volume_flags_leave_nothing() {
    let l = Life::new();
    let missing = format!("{}:/x", l.t.path().join("missing").display());
    for flags in [
        vec!["-v", missing.as_str()],
        vec!["-v", "rel/dir:/x"],
        vec!["-v", "data:relative"],
        vec!["-v", "data:/x:bogus"],
        vec!["--tmpfs", "relative"],
        vec!["--mount", "type=nfs,target=/x"],
        vec!["--volumes-from", "no-such-container"],
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend(&flags);
        args.extend(["box", "true"]);
        let out = l.wharf(&args);
        assert_eq!(out.status.code(), Some(125), "{flags:?}");
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    }
    assert!(!l.t.path().join("volumes/data").exists());
    assert_eq!(l.leftovers(), Vec::<String>::new());
}
