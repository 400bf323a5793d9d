//! `wharf cp` both ways, judged by the bytes on disk: into and out of the
//! container's merged root, tar streams with `-`, and the hostile
//! symlinks of the docker cp CVE-2018-15664 class — a container's
//! `/etc/evil -> /root` and `..` climbing — resolved inside the
//! container, never on the host.

mod common;
mod lifecycle_common;

use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;

use lifecycle_common::{stderr, Life};

/// A file name no host directory has by chance.
fn unique(what: &str) -> String {
    format!("wharf-cp-{what}-{}", std::process::id())
}

/// Removes a host file that a broken cp might have planted.
struct Planted(PathBuf);

impl Drop for Planted {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn cp_through_hostile_symlinks_stays_inside() {
    let l = Life::new();
    let script = "ln -s /root /etc/evil; mkdir /data; echo in > /data/f; \
                  ln -s ../../../../etc/passwd /data/up; echo ready; sleep 100";
    let id = l.ok(&["run", "-d", "--name", "cpbox", "box", "sh", "-c", script]);
    l.until(10, "the symlinks", || {
        l.ok(&["logs", "cpbox"]).contains("ready")
    });
    let merged = l.containers_dir().join(&id).join("merged");
    let host = l.t.path().join("host");
    std::fs::create_dir(&host).unwrap();

    // Into the container through /etc/evil: the container's /root, not ours.
    let name = unique("planted");
    let planted = Planted(PathBuf::from("/root").join(&name));
    let src = host.join("secret");
    std::fs::write(&src, "secret\n").unwrap();
    let dest = format!("cpbox:/etc/evil/{name}");
    l.ok(&["cp", src.to_str().unwrap(), &dest]);
    assert!(
        !planted.0.exists(),
        "cp wrote through the symlink onto the host"
    );
    let inside = std::fs::read_to_string(merged.join("root").join(&name)).unwrap();
    assert_eq!(inside, "secret\n");

    // Out of the container through /etc/evil/: what the container's /root
    // holds (only the file just planted), not the host's /root.
    let out = host.join("evil-out");
    l.ok(&["cp", "cpbox:/etc/evil/", out.to_str().unwrap()]);
    let got: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(got, std::slice::from_ref(&name));
    // `..` cannot climb above the container's root.
    let passwd = host.join("passwd");
    l.ok(&[
        "cp",
        "cpbox:/../../../../../etc/passwd",
        passwd.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read(&passwd).unwrap(),
        std::fs::read(merged.join("etc/passwd")).unwrap()
    );
    // A directory comes out whole; its symlink stays a symlink, unfollowed.
    let data = host.join("data");
    l.ok(&["cp", "cpbox:/data", data.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(data.join("f")).unwrap(), "in\n");
    let up = std::fs::read_link(data.join("up")).unwrap();
    assert_eq!(up, PathBuf::from("../../../../etc/passwd"));
    // Into an existing directory: basename(SRC) inside it.
    l.ok(&["cp", "cpbox:/data/f", host.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(host.join("f")).unwrap(), "in\n");

    // Tar streams: out to stdout, in from stdin.
    let out = l.wharf(&["cp", "cpbox:/data", "-"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut names: Vec<String> = tar::Archive::new(&out.stdout[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["data", "data/f", "data/up"]);
    let streamed = unique("streamed");
    let _planted = Planted(PathBuf::from("/root").join(&streamed));
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(6);
    h.set_mode(0o644);
    tar.append_data(&mut h, &streamed, &b"bytes\n"[..]).unwrap();
    let bytes = tar.into_inner().unwrap();
    let mut child =
        l.t.cmd("wharf")
            .args(["cp", "-", "cpbox:/etc/evil"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    assert!(child.wait().unwrap().success());
    let inside = merged.join("root").join(&streamed);
    assert_eq!(std::fs::read(inside).unwrap(), b"bytes\n");
    assert!(
        !_planted.0.exists(),
        "a tar stream went through the symlink"
    );

    // Bad input: one line, 125, nothing made.
    let missing = host.join("never");
    for args in [
        vec!["cp", "cpbox:/no/such", missing.to_str().unwrap()],
        vec!["cp", "nosuch:/etc/passwd", missing.to_str().unwrap()],
        vec!["cp", src.to_str().unwrap(), missing.to_str().unwrap()],
    ] {
        let out = l.wharf(&args);
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
        assert!(!missing.exists());
    }
    l.ok(&["rm", "-f", "cpbox"]);
    assert_eq!(l.leftovers(), Vec::<String>::new());
}
