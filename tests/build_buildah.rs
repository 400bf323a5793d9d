//! The same Dockerfile built by `wharf build` and by `buildah bud` (with a
//! throwaway --root/--runroot, the vfs driver and chroot isolation, on a
//! base image that wharf saved and buildah pulled from that archive): the
//! unpacked files (names, types, modes, owners, contents) and the config
//! fields agree.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use common::TestRoot;

const DOCKERFILE: &str = r#"ARG BASE=base:1
FROM $BASE AS build
ARG WHO=nobody
ENV GREETING="hello there" DIR=/srv
WORKDIR $DIR
COPY *.txt ./
COPY --chown=1000:1000 --chmod=640 conf/app.conf /etc/app.conf
RUN echo "$GREETING from $WHO" > made.txt && rm -f /bin/true && mkdir -p /var/lib/app && chmod 700 /var/lib/app
RUN ["/bin/sh", "-c", "echo exec form > /srv/exec.txt"]

FROM build
COPY --from=build /srv/made.txt /copied/made.txt
LABEL team=core
EXPOSE 80 53/udp
VOLUME /data
USER 1000:1000
STOPSIGNAL SIGTERM
ENTRYPOINT ["/bin/echo"]
CMD ["--help"]
"#;

fn run_ok(c: &mut Command) -> String {
    let out = c.output().expect("spawn");
    assert!(
        out.status.success(),
        "{:?} failed:\n{}{}",
        c,
        common::stdout(&out),
        common::stderr(&out)
    );
    common::stdout(&out)
}

/// Every entry below `root`: kind, mode, owner and content (or target).
fn tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, p: &Path, out: &mut BTreeMap<String, String>) {
    let m = fs::symlink_metadata(p).unwrap();
    let what = if m.file_type().is_symlink() {
        format!("link {}", fs::read_link(p).unwrap().display())
    } else if m.is_dir() {
        "dir".to_string()
    } else {
        format!("file {:?}", common_sha(&fs::read(p).unwrap()))
    };
    let rel = p.strip_prefix(root).unwrap().display().to_string();
    out.insert(
        rel,
        format!("{what} {:o} {}:{}", m.mode() & 0o7777, m.uid(), m.gid()),
    );
    if m.is_dir() {
        for e in fs::read_dir(p).unwrap() {
            walk(root, &e.unwrap().path(), out);
        }
    }
}

fn common_sha(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

#[test]
fn wharf_build_and_buildah_bud_agree() {
    let t = TestRoot::new();
    assert!(
        Command::new("buildah").arg("--version").output().is_ok(),
        "buildah is not installed: run tests/setup.sh"
    );
    let base_dir = t.path().join("base-rootfs");
    run_ok(
        t.cmd("wharf")
            .args(["rootfs", "create", "--image", "base:1"])
            .arg(&base_dir),
    );
    let ctx = t.path().join("ctx");
    fs::create_dir_all(ctx.join("conf")).unwrap();
    fs::write(ctx.join("a.txt"), "a\n").unwrap();
    fs::write(ctx.join("b.txt"), "b\n").unwrap();
    fs::write(ctx.join("conf/app.conf"), "port=80\n").unwrap();
    fs::write(ctx.join("Dockerfile"), DOCKERFILE).unwrap();

    run_ok(
        t.cmd("wharf")
            .args(["build", "-t", "ours:1", "--build-arg", "WHO=x"])
            .arg(&ctx),
    );
    let ours = t.path().join("ours");
    run_ok(
        t.cmd("wharf")
            .args(["image", "unpack", "ours:1"])
            .arg(&ours),
    );
    let ours_cfg: serde_json::Value =
        serde_json::from_str(&run_ok(t.cmd("wharf").args(["image", "inspect", "ours:1"]))).unwrap();

    // buildah, in a store of its own below the test's root.
    let base_tar = t.path().join("base.tar");
    run_ok(
        t.cmd("wharf")
            .args(["save", "base:1", "--format", "oci", "-o"])
            .arg(&base_tar),
    );
    let (root, runroot) = (t.path().join("buildah-root"), t.path().join("buildah-run"));
    let buildah = |args: &[&str]| {
        let mut c = Command::new("buildah");
        c.arg("--root")
            .arg(&root)
            .arg("--runroot")
            .arg(&runroot)
            .args(["--storage-driver", "vfs"])
            .args(args)
            .env("BUILDAH_ISOLATION", "chroot");
        c
    };
    let id = run_ok(&mut buildah(&[
        "pull",
        "-q",
        &format!("oci-archive:{}", base_tar.display()),
    ]));
    let base_arg = format!("BASE={}", id.trim());
    run_ok(
        buildah(&[
            "bud",
            "-q",
            "--layers",
            "--build-arg",
            &base_arg,
            "--build-arg",
            "WHO=x",
            "-t",
            "theirs:1",
        ])
        .arg(&ctx),
    );
    let theirs_tar = t.path().join("theirs.tar");
    run_ok(&mut buildah(&[
        "push",
        "-q",
        "theirs:1",
        &format!("oci-archive:{}:theirs:1", theirs_tar.display()),
    ]));
    let cmp = TestRoot::new();
    run_ok(cmp.cmd("wharf").args(["load", "-i"]).arg(&theirs_tar));
    let theirs = t.path().join("theirs");
    run_ok(
        cmp.cmd("wharf")
            .args(["image", "unpack", "theirs:1"])
            .arg(&theirs),
    );
    let theirs_cfg: serde_json::Value = serde_json::from_str(&run_ok(
        cmp.cmd("wharf").args(["image", "inspect", "theirs:1"]),
    ))
    .unwrap();

    let (a, mut b) = (tree(&ours), tree(&theirs));
    // buildah's RUN binds the host's resolv.conf, hosts and hostname over
    // files it creates for that, and leaves them empty in the layer when
    // the base had none; wharf's RUN has its own network namespace and no
    // bind, so nothing is left.
    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    for f in ["etc/resolv.conf", "etc/hosts", "etc/hostname"] {
        if !a.contains_key(f) && b.get(f).is_some_and(|v| v.contains(EMPTY)) {
            b.remove(f);
        }
    }
    let differ: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("{k}: wharf {:?} buildah {:?}", a.get(k), b.get(k)))
        .collect();
    assert!(
        differ.is_empty(),
        "the unpacked files differ:\n{}",
        differ.join("\n")
    );
    // buildah signs its images with a label of its own version.
    let mut theirs_cfg = theirs_cfg;
    theirs_cfg[0]["Config"]["Labels"]
        .as_object_mut()
        .expect("labels")
        .remove("io.buildah.version");
    for field in [
        "Env",
        "Cmd",
        "Entrypoint",
        "WorkingDir",
        "User",
        "ExposedPorts",
        "Volumes",
        "Labels",
        "StopSignal",
    ] {
        assert_eq!(
            ours_cfg[0]["Config"][field], theirs_cfg[0]["Config"][field],
            "Config.{field}"
        );
    }
}
