//! `wharf build` judged from the store's side: the images it makes (config
//! fields, history, the files their layers unpack to), the step cache,
//! reproducible digests, a failing RUN that leaves nothing, and bad input
//! refused with one line and the store unchanged.

mod common;
mod image_support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::TestRoot;
use image_support::tar_of;
use wharf::image::{tags, unpack::unpack, Image, Lock, Quiet, Store};

const DOCKERFILE: &str = r#"# every instruction this builder knows
ARG BASE=base:1
FROM $BASE AS build
ARG WHO=nobody
ENV GREETING="hello there" DIR=/srv
WORKDIR $DIR
COPY *.txt ./
COPY --chown=1000:1000 --chmod=640 conf/app.conf /etc/app.conf
RUN echo "$GREETING from $WHO" > made.txt && rm -f /bin/true
SHELL ["/bin/sh", "-e", "-c"]
RUN ["/bin/sh", "-c", "echo exec form > /srv/exec.txt"]

FROM build
MAINTAINER Jane Doe <jane@example.org>
COPY --from=build /srv/made.txt /copied/made.txt
LABEL team=core "two words"="a b"
EXPOSE 80 53/udp
VOLUME /data
USER 1000:1000
STOPSIGNAL SIGTERM
ENTRYPOINT echo start
CMD ["--help"]
"#;

fn context(t: &TestRoot) -> PathBuf {
    let ctx = t.path().join("ctx");
    fs::create_dir_all(ctx.join("conf")).unwrap();
    fs::write(ctx.join("a.txt"), "a\n").unwrap();
    fs::write(ctx.join("b.txt"), "b\n").unwrap();
    fs::write(ctx.join("ignored.txt"), "no\n").unwrap();
    fs::write(ctx.join(".dockerignore"), "ignored.txt\n").unwrap();
    fs::write(ctx.join("conf/app.conf"), "port=80\n").unwrap();
    fs::write(ctx.join("Dockerfile"), DOCKERFILE).unwrap();
    ctx
}

fn base(t: &TestRoot) {
    let dir = t.path().join("base-rootfs");
    let out = t.run(
        "wharf",
        &[
            "rootfs",
            "create",
            "--image",
            "base:1",
            dir.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
}

fn build(t: &TestRoot, ctx: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["build"];
    args.extend_from_slice(extra);
    args.push(ctx.to_str().unwrap());
    t.cmd("wharf")
        .args(&args)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap()
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "build failed:\n{}{}",
        common::stdout(&o),
        common::stderr(&o)
    );
    common::stdout(&o)
}

fn image(t: &TestRoot, name: &str) -> Image {
    let store = Store::open(t.path(), Lock::Shared).unwrap();
    tags::resolve(&store, name).unwrap()
}

fn index(t: &TestRoot) -> String {
    fs::read_to_string(t.path().join("images/index.json")).unwrap_or_default()
}

#[test]
fn every_instruction_lands_in_the_config_and_the_layers() {
    let t = TestRoot::new();
    base(&t);
    let ctx = context(&t);
    let out = ok(build(
        &t,
        &ctx,
        &["-t", "app:1", "--build-arg", "WHO=wharf"],
    ));
    assert!(out.contains("Step 1/19 : FROM $BASE AS build"), "{out}");
    assert!(out.contains("Step 19/19 : CMD [\"--help\"]"), "{out}");
    assert!(
        out.contains("Successfully tagged docker.io/library/app:1"),
        "{out}"
    );

    let img = image(&t, "app:1");
    let c = img.config.config().clone().unwrap();
    assert_eq!(
        img.config.author().as_deref(),
        Some("Jane Doe <jane@example.org>")
    );
    let env = c.env().clone().unwrap();
    assert!(env.contains(&"GREETING=hello there".to_string()), "{env:?}");
    assert!(
        !env.iter().any(|e| e.starts_with("WHO=")),
        "a build arg is not kept: {env:?}"
    );
    assert_eq!(c.working_dir().as_deref(), Some("/srv"));
    assert_eq!(c.user().as_deref(), Some("1000:1000"));
    assert_eq!(c.stop_signal().as_deref(), Some("SIGTERM"));
    assert_eq!(
        c.entrypoint().clone().unwrap(),
        ["/bin/sh", "-e", "-c", "echo start"],
        "SHELL is inherited by FROM build"
    );
    assert_eq!(c.cmd().clone().unwrap(), ["--help"]);
    let mut ports = c.exposed_ports().clone().unwrap();
    ports.sort();
    assert_eq!(ports, ["53/udp", "80/tcp"]);
    assert_eq!(c.volumes().clone().unwrap(), ["/data"]);
    let labels = c.labels().clone().unwrap();
    assert_eq!(labels["team"], "core");
    assert_eq!(labels["two words"], "a b");

    // base + WORKDIR's new /srv + 2 COPY + 2 RUN in the first stage,
    // + 1 COPY in the second.
    assert_eq!(img.manifest.layers().len(), 7);
    let history = img.config.history().clone().unwrap();
    let empty: Vec<bool> = history
        .iter()
        .map(|h| h.empty_layer().unwrap_or(false))
        .collect();
    assert_eq!(
        empty.iter().filter(|e| !**e).count(),
        7,
        "one non-empty entry per layer"
    );
    assert!(history
        .iter()
        .any(|h| h.created_by().as_deref() == Some("/bin/sh -c #(nop) WORKDIR /srv")));

    let store = Store::open(t.path(), Lock::Shared).unwrap();
    let root = t.path().join("unpacked");
    unpack(&store, &img, &root, &Quiet).unwrap();
    assert_eq!(fs::read_to_string(root.join("srv/a.txt")).unwrap(), "a\n");
    assert_eq!(fs::read_to_string(root.join("srv/b.txt")).unwrap(), "b\n");
    assert!(!root.join("srv/ignored.txt").exists(), ".dockerignore");
    assert_eq!(
        fs::read_to_string(root.join("srv/made.txt")).unwrap(),
        "hello there from wharf\n"
    );
    assert_eq!(
        fs::read_to_string(root.join("srv/exec.txt")).unwrap(),
        "exec form\n"
    );
    assert_eq!(
        fs::read_to_string(root.join("copied/made.txt")).unwrap(),
        "hello there from wharf\n"
    );
    assert!(
        !root.join("bin/true").exists(),
        "RUN's rm became a whiteout"
    );
    assert!(root.join("bin/sh").exists());
    use std::os::unix::fs::MetadataExt;
    let conf = fs::metadata(root.join("etc/app.conf")).unwrap();
    assert_eq!(
        (conf.uid(), conf.gid(), conf.mode() & 0o7777),
        (1000, 1000, 0o640)
    );
}

#[test]
fn the_cache_reuses_steps_until_a_copied_file_changes() {
    let t = TestRoot::new();
    base(&t);
    let ctx = context(&t);
    let first = ok(build(&t, &ctx, &["-t", "app:1"]));
    assert!(!first.contains("Using cache"), "{first}");
    let again = ok(build(&t, &ctx, &["-t", "app:2"]));
    assert_eq!(
        again.matches("Using cache").count(),
        17,
        "every step but the two FROMs: {again}"
    );
    assert_eq!(image(&t, "app:1").id(), image(&t, "app:2").id());

    fs::write(ctx.join("conf/app.conf"), "port=81\n").unwrap();
    let changed = ok(build(&t, &ctx, &["-t", "app:3"]));
    // Steps 2-6 (ARG, ENV, WORKDIR, COPY *.txt) come from the cache;
    // from the COPY of app.conf on, everything is built again.
    assert_eq!(changed.matches("Using cache").count(), 4, "{changed}");
    let step7 = changed.split("Step 6/19").nth(1).unwrap();
    assert!(!step7.contains("Using cache"), "{changed}");

    let none = ok(build(&t, &ctx, &["--no-cache", "-t", "app:4"]));
    assert!(!none.contains("Using cache"), "{none}");
}

#[test]
fn source_date_epoch_gives_the_same_digest_twice() {
    let t = TestRoot::new();
    base(&t);
    let ctx = context(&t);
    ok(build(&t, &ctx, &["--no-cache", "-t", "one:1"]));
    ok(build(&t, &ctx, &["--no-cache", "-t", "two:1"]));
    let (one, two) = (image(&t, "one:1"), image(&t, "two:1"));
    assert_eq!(one.manifest_digest, two.manifest_digest);
    assert_eq!(
        one.config.created().as_deref(),
        Some("2023-11-14T22:13:20Z")
    );
}

#[test]
fn a_failing_run_reports_its_code_and_leaves_nothing() {
    let t = TestRoot::new();
    base(&t);
    let ctx = t.path().join("fail");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(
        ctx.join("Dockerfile"),
        "FROM base:1\nENV A=1\nRUN echo last words; exit 3\n",
    )
    .unwrap();
    let before = index(&t);
    let out = build(&t, &ctx, &["-t", "broken:1"]);
    assert!(!out.status.success());
    let err = common::stderr(&out);
    assert!(err.contains("non-zero code: 3"), "{err}");
    assert!(
        common::stdout(&out).contains("last words"),
        "the command's output was shown"
    );
    // The ENV step's image may stay (it is a finished step), the RUN's not.
    let store = Store::open(t.path(), Lock::Shared).unwrap();
    assert!(tags::resolve(&store, "broken:1").is_err());
    let after = index(&t);
    assert_eq!(
        after.matches("\"digest\"").count(),
        before.matches("\"digest\"").count() + 1
    );
    let containers = fs::read_dir(t.path().join("containers"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(containers, 0, "no container dir left");
    assert!(common::our_mounts(&t).is_empty(), "no mount left");
    assert_eq!(
        fs::read_dir(t.path().join("images/tmp")).unwrap().count(),
        0
    );
}

#[test]
fn bad_input_is_one_line_and_changes_nothing() {
    let t = TestRoot::new();
    base(&t);
    let ctx = t.path().join("bad");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(t.path().join("outside"), "secret\n").unwrap();
    std::os::unix::fs::symlink("../outside", ctx.join("escape")).unwrap();
    let cases = [
        (
            "FROM base:1\nHEALTHCHECK --interval=1s BOGUS\n",
            "line 2 column 27",
        ),
        ("FROM base:1\nFROBNICATE now\n", "line 2"),
        ("FROM base:1\nCOPY escape /x\n", "outside the build context"),
        (
            "FROM base:1\nCOPY ../../outside /x\n",
            "not found in the build context",
        ),
        ("FROM base:1\nCOPY --from=nope /a /b\n", "--from=nope"),
        ("FROM nosuch:9\n", "nosuch:9"),
    ];
    let before = index(&t);
    for (dockerfile, says) in cases {
        fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
        let out = build(&t, &ctx, &[]);
        assert!(!out.status.success(), "{dockerfile}");
        let err = common::stderr(&out);
        assert_eq!(
            err.trim().lines().count(),
            1,
            "one line for {dockerfile:?}: {err}"
        );
        assert!(
            err.contains(says),
            "{dockerfile:?} should say {says:?}: {err}"
        );
        assert_eq!(index(&t), before, "{dockerfile:?} changed the store");
    }
    let out = build(&t, &ctx, &["--target", "missing"]);
    assert!(common::stderr(&out).contains("--target missing"));
}

#[test]
fn add_unpacks_each_kind_of_archive_and_downloads_urls() {
    use std::io::{Read, Write};
    let t = TestRoot::new();
    base(&t);
    let ctx = t.path().join("add");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(ctx.join("plain.tar"), tar_of(&[("p.txt", b"plain\n")])).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar_of(&[("g.txt", b"gzip\n")])).unwrap();
    fs::write(ctx.join("g.tgz"), gz.finish().unwrap()).unwrap();
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    bz.write_all(&tar_of(&[("b.txt", b"bzip2\n")])).unwrap();
    fs::write(ctx.join("b.tar.bz2"), bz.finish().unwrap()).unwrap();
    let mut xz = Vec::new();
    lzma_rs::xz_compress(&mut &tar_of(&[("x.txt", b"xz\n")])[..], &mut xz).unwrap();
    fs::write(ctx.join("x.tar.xz"), xz).unwrap();
    fs::write(
        ctx.join("z.tar.zst"),
        zstd::encode_all(&tar_of(&[("z.txt", b"zstd\n")])[..], 0).unwrap(),
    )
    .unwrap();
    fs::write(ctx.join("note.txt"), "not an archive\n").unwrap();

    // A one-shot HTTP server on loopback for the URL source.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut req = [0u8; 1024];
        let _ = s.read(&mut req).unwrap();
        let body = "from the web\n";
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(resp.as_bytes()).unwrap();
    });
    let dockerfile = format!(
        "FROM base:1\nADD plain.tar g.tgz b.tar.bz2 x.tar.xz z.tar.zst note.txt /x/\nADD http://127.0.0.1:{port}/web.txt /web/\n"
    );
    fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
    ok(build(&t, &ctx, &["-t", "added:1"]));
    server.join().unwrap();

    let store = Store::open(t.path(), Lock::Shared).unwrap();
    let root = t.path().join("unpacked");
    unpack(&store, &image(&t, "added:1"), &root, &Quiet).unwrap();
    for (f, body) in [
        ("p.txt", "plain\n"),
        ("g.txt", "gzip\n"),
        ("b.txt", "bzip2\n"),
        ("x.txt", "xz\n"),
        ("z.txt", "zstd\n"),
        ("note.txt", "not an archive\n"),
    ] {
        assert_eq!(
            fs::read_to_string(root.join("x").join(f)).unwrap(),
            body,
            "{f}"
        );
    }
    assert!(
        !root.join("x/g.tgz").exists(),
        "an archive is unpacked, not copied"
    );
    use std::os::unix::fs::MetadataExt;
    let web = root.join("web/web.txt");
    assert_eq!(fs::read_to_string(&web).unwrap(), "from the web\n");
    assert_eq!(
        fs::metadata(&web).unwrap().mode() & 0o777,
        0o600,
        "Docker's mode for a download"
    );
}

/// The config blob as stored: Docker's fields the OCI schema lacks too.
fn raw_config(t: &TestRoot, name: &str) -> serde_json::Value {
    let store = Store::open(t.path(), Lock::Shared).unwrap();
    let img = tags::resolve(&store, name).unwrap();
    serde_json::from_slice(&store.read_blob(img.id()).unwrap()).unwrap()
}

#[test]
fn onbuild_triggers_run_in_the_child_and_healthcheck_is_kept() {
    let t = TestRoot::new();
    base(&t);
    let ctx = t.path().join("onbuild");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(ctx.join("child.txt"), "from the child's context\n").unwrap();
    fs::write(
        ctx.join("Base.Dockerfile"),
        "FROM base:1\nHEALTHCHECK --interval=5s --retries=2 CMD /bin/sh -c exit\nONBUILD RUN echo triggered > /trig.txt\nONBUILD COPY child.txt /child.txt\n",
    )
    .unwrap();
    fs::write(ctx.join("Dockerfile"), "FROM onbase:1\nENV X=1\n").unwrap();
    let base_file = ctx.join("Base.Dockerfile");
    ok(build(
        &t,
        &ctx,
        &["-f", base_file.to_str().unwrap(), "-t", "onbase:1"],
    ));
    let parent = raw_config(&t, "onbase:1");
    assert_eq!(
        parent["config"]["OnBuild"],
        serde_json::json!([
            "RUN echo triggered > /trig.txt",
            "COPY child.txt /child.txt"
        ])
    );
    let check = &parent["config"]["Healthcheck"];
    assert_eq!(
        check["Test"],
        serde_json::json!(["CMD-SHELL", "/bin/sh -c exit"])
    );
    assert_eq!(
        (check["Interval"].as_u64(), check["Retries"].as_u64()),
        (Some(5_000_000_000), Some(2))
    );

    let out = ok(build(&t, &ctx, &["-t", "child:1"]));
    assert!(out.contains("# Executing 2 build triggers"), "{out}");
    let child = raw_config(&t, "child:1");
    assert!(
        child["config"].get("OnBuild").is_none(),
        "triggers are not inherited"
    );
    assert_eq!(&child["config"]["Healthcheck"], check, "HEALTHCHECK is");
    let store = Store::open(t.path(), Lock::Shared).unwrap();
    let root = t.path().join("unpacked");
    unpack(&store, &image(&t, "child:1"), &root, &Quiet).unwrap();
    assert_eq!(
        fs::read_to_string(root.join("trig.txt")).unwrap(),
        "triggered\n"
    );
    assert_eq!(
        fs::read_to_string(root.join("child.txt")).unwrap(),
        "from the child's context\n"
    );
}

#[test]
fn workdir_makes_a_missing_directory_and_only_then_a_layer() {
    let t = TestRoot::new();
    base(&t);
    let ctx = t.path().join("workdir");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(
        ctx.join("Dockerfile"),
        "FROM base:1\nWORKDIR /bin\nWORKDIR /opt/app\nRUN pwd > /where.txt\n",
    )
    .unwrap();
    ok(build(&t, &ctx, &["-t", "wd:1"]));
    let img = image(&t, "wd:1");
    let history = img.config.history().clone().unwrap();
    let empty: Vec<bool> = history[1..]
        .iter()
        .map(|h| h.empty_layer().unwrap_or(false))
        .collect();
    assert_eq!(
        empty,
        [true, false, false],
        "/bin exists; /opt/app is made; RUN"
    );
    let store = Store::open(t.path(), Lock::Shared).unwrap();
    let root = t.path().join("unpacked");
    unpack(&store, &img, &root, &Quiet).unwrap();
    assert!(root.join("opt/app").is_dir());
    assert_eq!(
        fs::read_to_string(root.join("where.txt")).unwrap(),
        "/opt/app\n"
    );
}
