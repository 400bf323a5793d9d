//! A registry that lies, breaks off or loops: a fake one (canned HTTP on
//! loopback) serves a good image, then the same image broken in one way at
//! a time. Each break is one clear line, a non-zero exit, and a store
//! exactly as it was.

mod common;
mod image_support;
mod registry_support;
use common::*;
use image_support::*;
use registry_support::*;

use std::collections::HashMap;

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// A two-layer image as a registry would serve it (two, so that the
/// parallel downloads must be taken in in order).
struct Parts {
    layer: Vec<u8>,
    second: Vec<u8>,
    config: Vec<u8>,
    manifest: Vec<u8>,
}

impl Parts {
    fn new(t: &TestRoot) -> Parts {
        let tree = scratch(t, "served");
        sample_tree(&tree, "fake");
        let plain = layer_of(&tree);
        let layer = gzip(&plain);
        let second = tar_of(&[("bin/suid", b"replaced by layer 2\n")]);
        let config = config_for(&[&plain, &second]);
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": sha256(&config), "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": sha256(&layer), "size": layer.len()},
                       {"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": sha256(&second), "size": second.len()}],
        }))
        .unwrap();
        Parts {
            layer,
            second,
            config,
            manifest,
        }
    }

    fn blob_path(bytes: &[u8]) -> String {
        format!("/v2/bad/app/blobs/{}", sha256(bytes))
    }

    /// Every path of the good image, with its answer.
    fn answers(&self) -> HashMap<String, Answer> {
        HashMap::from([
            (
                "/v2/bad/app/manifests/v1".to_string(),
                Answer::ok(&self.manifest, MANIFEST),
            ),
            (
                Self::blob_path(&self.config),
                Answer::ok(&self.config, "application/octet-stream"),
            ),
            (
                Self::blob_path(&self.layer),
                Answer::ok(&self.layer, "application/octet-stream"),
            ),
            (
                Self::blob_path(&self.second),
                Answer::ok(&self.second, "application/octet-stream"),
            ),
        ])
    }
}

/// A state root whose store already holds an image, so that "unchanged"
/// means something.
fn populated() -> TestRoot {
    let t = TestRoot::new();
    let tree = scratch(&t, "local");
    sample_tree(&tree, "local");
    import_tree(&t, &tree, "local:1");
    t
}

fn pull(fake: &Fake) -> String {
    format!("{}/bad/app:v1", fake.host)
}

#[test]
fn the_fake_registry_serves_a_good_image_and_an_index() {
    let t = populated();
    let p = Parts::new(&t);
    let fake = Fake::serve(p.answers());
    ok(&t.run("wharf", &["pull", &pull(&fake)]));
    let rootfs = wharf_unpack(&t, &pull(&fake), "pulled");
    assert_eq!(
        std::fs::read(rootfs.join("bin/suid")).unwrap(),
        b"replaced by layer 2\n"
    );
    assert_eq!(
        std::fs::read(rootfs.join("etc/os-release")).unwrap(),
        b"NAME=wharf-fake\n"
    );

    // Behind an index, the entry for this machine is the one taken (the
    // other entry's manifest does not even exist).
    let t = populated();
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": INDEX,
        "manifests": [
            {"mediaType": MANIFEST, "digest": sha256(b"not here"), "size": 8,
             "platform": {"architecture": "arm64", "os": "linux"}},
            {"mediaType": MANIFEST, "digest": sha256(&p.manifest), "size": p.manifest.len(),
             "platform": {"architecture": "amd64", "os": "linux"}},
        ],
    }))
    .unwrap();
    let mut a = p.answers();
    a.insert(
        format!("/v2/bad/app/manifests/{}", sha256(&p.manifest)),
        Answer::ok(&p.manifest, MANIFEST),
    );
    a.insert("/v2/bad/app/manifests/v1".into(), Answer::ok(&index, INDEX));
    let fake = Fake::serve(a);
    let out = ok(&t.run("wharf", &["pull", &pull(&fake)]));
    assert!(out.contains(&sha256(&p.manifest)), "{out}");
}

/// Serve the good image changed by `break_it`; the pull must be refused
/// with one line naming every one of `words`.
fn refused_pull(break_it: impl FnOnce(&Parts, &mut HashMap<String, Answer>), words: &[&str]) {
    let t = populated();
    let p = Parts::new(&t);
    let mut a = p.answers();
    break_it(&p, &mut a);
    let fake = Fake::serve(a);
    let err = refused(&t, &["pull", &pull(&fake)], words);
    eprintln!("refused as expected: {err}");
}

/// The first layer streams into the ingest pass, which names the layer
/// it refused; the second is spooled, and its download is refused.
fn first_or_second(p: &Parts, first: bool) -> &[u8] {
    if first {
        &p.layer
    } else {
        &p.second
    }
}

#[test]
fn a_blob_with_the_wrong_digest_is_refused() {
    for (first, words) in [
        (true, ["layer 1 of 2", "refused"]),
        (false, ["digest mismatch", "content is"]),
    ] {
        refused_pull(
            |p, a| {
                let good = first_or_second(p, first);
                let mut bad = good.to_vec();
                let n = bad.len();
                bad[n - 20] ^= 0xff;
                a.insert(
                    Parts::blob_path(good),
                    Answer::ok(&bad, "application/octet-stream"),
                );
            },
            &words,
        );
    }
}

#[test]
fn a_manifest_whose_digest_is_not_the_one_claimed_is_refused() {
    refused_pull(
        |p, a| {
            let answer = Answer::ok(&p.manifest, MANIFEST)
                .header("Docker-Content-Digest", &sha256(b"something else"));
            a.insert("/v2/bad/app/manifests/v1".into(), answer);
        },
        &["Docker-Content-Digest"],
    );
}

#[test]
fn a_truncated_blob_is_refused() {
    for (first, words) in [
        (true, ["layer 1 of 2", "refused"]),
        (false, ["blob sha256:", "broke off"]),
    ] {
        refused_pull(
            |p, a| {
                let good = first_or_second(p, first);
                let mut answer = Answer::ok(&good[..good.len() / 2], "application/octet-stream");
                answer.length = Some(good.len());
                a.insert(Parts::blob_path(good), answer);
            },
            &words,
        );
    }
}

#[test]
fn unauthorized_and_not_found_are_refused() {
    refused_pull(
        |_, a| {
            a.insert("/v2/bad/app/manifests/v1".into(), Answer::status(401));
        },
        &["401", "wharf login"],
    );
    refused_pull(
        |p, a| {
            a.remove(&Parts::blob_path(&p.layer));
        },
        &["404", "not found"],
    );
}

#[test]
fn an_oversize_manifest_is_refused_before_it_is_read() {
    refused_pull(
        |_, a| {
            let huge = vec![b' '; 5 << 20];
            a.insert(
                "/v2/bad/app/manifests/v1".into(),
                Answer::ok(&huge, MANIFEST),
            );
        },
        &["limit"],
    );
}

#[test]
fn malformed_json_is_refused() {
    refused_pull(
        |_, a| {
            a.insert(
                "/v2/bad/app/manifests/v1".into(),
                Answer::ok(b"{\"schemaVersion\": 2,", MANIFEST),
            );
        },
        &["not valid JSON"],
    );
    refused_pull(
        |p, a| {
            // A config that is not JSON, served under its own true digest.
            let bad = b"{oops".to_vec();
            let mut m: serde_json::Value = serde_json::from_slice(&p.manifest).unwrap();
            m["config"]["digest"] = sha256(&bad).into();
            m["config"]["size"] = bad.len().into();
            let m = serde_json::to_vec(&m).unwrap();
            a.insert("/v2/bad/app/manifests/v1".into(), Answer::ok(&m, MANIFEST));
            a.insert(
                Parts::blob_path(&bad),
                Answer::ok(&bad, "application/octet-stream"),
            );
        },
        &["config"],
    );
}

#[test]
fn a_redirect_loop_is_refused() {
    refused_pull(
        |p, a| {
            let path = Parts::blob_path(&p.layer);
            a.insert(path.clone(), Answer::status(307).header("Location", &path));
        },
        &["redirects"],
    );
}

#[test]
fn a_bearer_token_is_fetched_with_the_login_and_refused_without() {
    let t = populated();
    let p = Parts::new(&t);
    let fake = Fake::with_token(p.answers(), "robot:hunter2", "tok-123");
    let auth = t.path().join("auth.json");
    // No login: the token server refuses, and says what to do.
    let args = ["pull", "--authfile", auth.to_str().unwrap(), &pull(&fake)];
    refused(&t, &args, &["token server", "wharf login"]);
    let login = output_with_stdin(
        t.cmd("wharf").args([
            "login",
            "-u",
            "robot",
            "--password-stdin",
            "--authfile",
            auth.to_str().unwrap(),
            &fake.host,
        ]),
        b"hunter2\n",
    );
    assert!(login.status.success(), "{}", stderr(&login));
    ok(&t.run("wharf", &args));
    // The pull asked for a pull token on this repository.
    let seen = fake.seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|s| s.contains("scope=repository%3Abad%2Fapp%3Apull")
                || s.contains("scope=repository:bad/app:pull")),
        "{seen:?}"
    );
}
