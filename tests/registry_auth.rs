//! A registry with TLS (a self-signed certificate made here) and htpasswd
//! basic auth: wharf trusts the certificate only when told (--cert-dir),
//! logs in, and shares its auth.json with skopeo both ways. A wrong
//! password, a missing login, or an unknown certificate is one clear line.

mod common;
mod image_support;
mod registry_support;
use common::*;
use image_support::*;
use registry_support::*;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

/// wharf with `password` on stdin.
fn with_stdin(t: &TestRoot, args: &[&str], password: &str) -> Output {
    output_with_stdin(
        t.cmd("wharf").args(args),
        format!("{password}\n").as_bytes(),
    )
}

fn one_line_failure(out: &Output, words: &[&str]) {
    let err = stderr(out);
    assert!(!out.status.success(), "accepted: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    for w in words {
        assert!(err.contains(w), "{err:?} does not name {w:?}");
    }
}

#[test]
fn tls_registry_with_basic_auth_and_an_auth_json_shared_with_skopeo() {
    let t = TestRoot::new();
    let r = Registry::tls_with_auth();
    let certs = r.cert_dir.clone().unwrap();
    let certs = certs.to_str().unwrap();
    let name = format!("{}/secure/app:v1", r.host);
    let tree = scratch(&t, "tree");
    sample_tree(&tree, "tls");
    import_tree(&t, &tree, &name);
    let ours = scratch(&t, "auth").join("wharf.json");
    let ours_s = ours.to_str().unwrap();
    let with = |verb: &str, target: &str, file: &str| -> Vec<String> {
        [verb, "--cert-dir", certs, "--authfile", file, target]
            .map(str::to_string)
            .to_vec()
    };
    let run = |args: Vec<String>| t.cmd("wharf").args(args).output().unwrap();

    // Not logged in yet: the registry's 401 names what to do.
    one_line_failure(&run(with("push", &name, ours_s)), &["wharf login"]);
    // A certificate nobody vouched for is refused, even on loopback.
    one_line_failure(
        &t.run("wharf", &["pull", "--authfile", ours_s, &name]),
        &[&r.host],
    );
    // A wrong password: refused, and no file written.
    let login = |file: &str, pw: &str| {
        with_stdin(
            &t,
            &[
                "login",
                "-u",
                USER,
                "--password-stdin",
                "--cert-dir",
                certs,
                "--authfile",
                file,
                &r.host,
            ],
            pw,
        )
    };
    one_line_failure(&login(ours_s, "wrong"), &["refused"]);
    assert!(!ours.exists(), "a failed login wrote {}", ours.display());

    let out = login(ours_s, PASSWORD);
    assert!(ok(&out).contains("Login Succeeded"));
    let mode = std::fs::metadata(&ours).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "auth.json holds passwords");
    let pushed = ok(&run(with("push", &name, ours_s)));
    // skopeo reads the file wharf wrote.
    let src = format!("docker://{name}");
    let inspected =
        run_ok(peer("skopeo").args(["inspect", "--authfile", ours_s, "--cert-dir", certs, &src]));
    let digest: serde_json::Value = serde_json::from_str(&inspected).unwrap();
    assert!(
        pushed.contains(digest["Digest"].as_str().unwrap()),
        "{pushed} vs {inspected}"
    );

    // wharf reads the file skopeo wrote.
    let theirs = t.path().join("auth/skopeo.json");
    let login = output_with_stdin(
        peer("skopeo")
            .args([
                "login",
                "--authfile",
                theirs.to_str().unwrap(),
                "--cert-dir",
                certs,
            ])
            .args(["-u", USER, "--password-stdin", &r.host]),
        PASSWORD.as_bytes(),
    );
    assert!(
        login.status.success(),
        "skopeo login failed: {}",
        stderr(&login)
    );
    let fresh = scratch(&t, "fresh");
    let pull = with("pull", &name, theirs.to_str().unwrap());
    let out = wharf_at(&t, &fresh, &pull);
    assert!(out.contains(digest["Digest"].as_str().unwrap()), "{out}");
    assert_same_files(
        &wharf_unpack(&t, &name, "ours"),
        &unpack_at(&t, &fresh, &name, "theirs"),
    );

    // Logged out: the entry is gone, and the registry refuses us again.
    ok(&run(["logout", "--authfile", ours_s, &r.host]
        .map(str::to_string)
        .to_vec()));
    let left: serde_json::Value = serde_json::from_slice(&std::fs::read(&ours).unwrap()).unwrap();
    assert!(left["auths"].get(&r.host).is_none(), "{left}");
    one_line_failure(&run(with("push", &name, ours_s)), &["wharf login"]);
    one_line_failure(
        &run(["logout", "--authfile", ours_s, &r.host]
            .map(str::to_string)
            .to_vec()),
        &["not logged in"],
    );
}

fn unpack_at(t: &TestRoot, root: &Path, name: &str, dir: &str) -> std::path::PathBuf {
    let d = t.path().join(dir);
    wharf_at(t, root, &["image", "unpack", name, d.to_str().unwrap()]);
    d
}
