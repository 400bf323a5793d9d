//! wharf and a real registry (Debian's docker-registry on loopback, plain
//! HTTP), with skopeo, umoci and podman on the other side: what wharf
//! pushes, the peers pull with the same files and config; what the peers
//! push, wharf pulls the same; push → pull on a fresh store keeps the
//! digest. Every image is made here from local files.

mod common;
mod image_support;
mod registry_support;
use common::*;
use image_support::*;
use registry_support::*;

use std::path::Path;

/// The registry's own copy of a blob, as distribution's filesystem
/// driver lays it out.
fn registry_blob(r: &Registry, digest: &str) -> Vec<u8> {
    let hex = hex_of(digest);
    let p = r
        .dir
        .path()
        .join("data/docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(hex)
        .join("data");
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn inspect(t: &TestRoot, root: &Path, name: &str) -> serde_json::Value {
    let out = wharf_at(t, root, &["image", "inspect", name]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v[0].clone()
}

/// `Digest: sha256:…` from pull's output.
fn pulled_digest(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("Digest: "))
        .unwrap_or_else(|| panic!("no digest in {out:?}"))
        .to_string()
}

/// An image of the sample tree in the store, named `name`.
fn sample_image(t: &TestRoot, name: &str) {
    let tree = scratch(t, "tree");
    sample_tree(&tree, "registry");
    import_tree(t, &tree, name);
}

#[test]
fn push_then_pull_on_a_fresh_store_keeps_the_digest_and_the_files() {
    let t = TestRoot::new();
    let r = Registry::plain();
    let name = format!("{}/demo/app:v1", r.host);
    sample_image(&t, &name);
    let pushed = ok(&t.run("wharf", &["push", &name]));
    assert!(pushed.contains(": Pushed"), "{pushed}");
    let ours = inspect(&t, t.path(), &name);
    // The registry holds the very bytes of the store's blobs.
    let manifest: serde_json::Value = serde_json::from_slice(&registry_blob(
        &r,
        pushed.trim().rsplit(' ').next().unwrap(),
    ))
    .unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    let store_blob = t.path().join("images/blobs/sha256").join(hex_of(layer));
    assert_eq!(registry_blob(&r, layer), std::fs::read(store_blob).unwrap());

    let fresh = scratch(&t, "fresh");
    let out = wharf_at(&t, &fresh, &["pull", &name]);
    assert!(pushed.contains(&pulled_digest(&out)), "{pushed} vs {out}");
    let theirs = inspect(&t, &fresh, &name);
    assert_eq!(ours["Id"], theirs["Id"]);
    assert_eq!(ours["RootFS"], theirs["RootFS"]);
    let a = wharf_unpack(&t, &name, "ours");
    let b = t.path().join("theirs");
    wharf_at(&t, &fresh, &["image", "unpack", &name, b.to_str().unwrap()]);
    assert_same_files(&a, &b);

    // Again: the store has every layer, nothing is fetched.
    let again = wharf_at(&t, &fresh, &["pull", &name]);
    assert!(again.contains("Image is up to date"), "{again}");
    // Pushed again: the registry has every blob. Under another name on
    // the same registry: the layer is mounted, not sent.
    let again = ok(&t.run("wharf", &["push", &name]));
    assert!(!again.contains(": Pushed"), "{again}");
    let other = format!("{}/other/copy:v2", r.host);
    ok(&t.run("wharf", &["tag", &name, &other]));
    let mounted = ok(&t.run("wharf", &["push", &other]));
    assert!(mounted.contains("Mounted from demo/app"), "{mounted}");
    assert!(
        !mounted.contains(": Pushed"),
        "the config is mounted too: {mounted}"
    );
    // Pulled by digest on yet another store: the same image.
    let by_digest = format!("{}/other/copy@{}", r.host, pulled_digest(&out));
    let third = scratch(&t, "third");
    wharf_at(&t, &third, &["pull", &by_digest]);
    assert_eq!(inspect(&t, &third, &by_digest)["Id"], ours["Id"]);

    let found = ok(&t.run("wharf", &["search", &format!("{}/other", r.host)]));
    assert!(
        found.contains("other/copy") && found.contains("v2"),
        "{found}"
    );
    assert!(
        !found.contains("demo/app"),
        "search did not filter: {found}"
    );
}

#[test]
fn skopeo_umoci_and_podman_read_what_wharf_pushed() {
    let t = TestRoot::new();
    let r = Registry::plain();
    let name = format!("{}/demo/app:v1", r.host);
    sample_image(&t, &name);
    ok(&t.run("wharf", &["push", &name]));
    let ours = inspect(&t, t.path(), &name);
    let src = format!("docker://{name}");
    let cfg: serde_json::Value = serde_json::from_str(&run_ok(peer("skopeo").args([
        "inspect",
        "--config",
        "--tls-verify=false",
        &src,
    ])))
    .unwrap();
    assert_eq!(cfg["config"], ours["Config"]);
    let layout = t.path().join("skopeo-layout");
    run_ok(peer("skopeo").args([
        "copy",
        "-q",
        "--src-tls-verify=false",
        &src,
        &format!("oci:{}:x", layout.display()),
    ]));
    let theirs = umoci_rootfs(&t, &format!("{}:x", layout.display()), "bundle");
    assert_same_files(&wharf_unpack(&t, &name, "ours"), &theirs);

    let storage = scratch(&t, "podman");
    podman_at(&storage, &["pull", "-q", "--tls-verify=false", &name]);
    let j: serde_json::Value =
        serde_json::from_str(&podman_at(&storage, &["image", "inspect", &name])).unwrap();
    assert_eq!(
        format!("sha256:{}", j[0]["Id"].as_str().unwrap()),
        ours["Id"].as_str().unwrap(),
        "podman sees the same config"
    );
}

#[test]
fn wharf_pulls_what_skopeo_and_podman_pushed() {
    let t = TestRoot::new();
    let r = Registry::plain();
    // An image built by umoci, copied into the registry by skopeo.
    let layout = t.path().join("umoci-layout");
    let tree = scratch(&t, "tree");
    sample_tree(&tree, "umoci");
    let l = layout.to_str().unwrap();
    let image = format!("{l}:t");
    run_ok(peer("umoci").args(["init", "--layout", l]));
    run_ok(peer("umoci").args(["new", "--image", &image]));
    run_ok(peer("umoci").args(["insert", "--image", &image, tree.to_str().unwrap(), "/"]));
    run_ok(peer("umoci").args(["config", "--image", &image, "--config.env", "FROM=umoci"]));
    let name = format!("{}/peer/umoci:t", r.host);
    run_ok(peer("skopeo").args([
        "copy",
        "-q",
        "--dest-tls-verify=false",
        &format!("oci:{image}"),
        &format!("docker://{name}"),
    ]));
    let theirs = umoci_rootfs(&t, &image, "bundle");
    ok(&t.run("wharf", &["pull", &name]));
    assert_same_files(&wharf_unpack(&t, &name, "from-skopeo"), &theirs);

    // podman pulls it, renames it and pushes it back (recompressing the
    // layer as it likes): wharf pulls that too, to the same files.
    let storage = scratch(&t, "podman");
    let again = format!("{}/peer/podman:p", r.host);
    podman_at(&storage, &["pull", "-q", "--tls-verify=false", &name]);
    podman_at(&storage, &["tag", &name, &again]);
    podman_at(&storage, &["push", "-q", "--tls-verify=false", &again]);
    ok(&t.run("wharf", &["pull", &again]));
    assert_same_files(&wharf_unpack(&t, &again, "from-podman"), &theirs);
    let env = inspect(&t, t.path(), &again)["Config"]["Env"].clone();
    assert!(env.to_string().contains("FROM=umoci"), "{env}");
}

#[test]
fn pull_if_missing_pulls_once_then_uses_the_store() {
    let t = TestRoot::new();
    let r = Registry::plain();
    let name = format!("{}/demo/run:v1", r.host);
    sample_image(&t, &name);
    ok(&t.run("wharf", &["push", &name]));
    let fresh = scratch(&t, "fresh");
    let store = wharf::image::Store::open(&fresh, wharf::image::Lock::Exclusive).unwrap();
    let pulled = wharf::registry::pull_if_missing(&store, &name).unwrap();
    assert_eq!(
        pulled.id().to_string(),
        inspect(&t, t.path(), &name)["Id"].as_str().unwrap()
    );
    // The registry is gone: the image now comes from the store alone.
    drop(r);
    let again = wharf::registry::pull_if_missing(&store, &name).unwrap();
    assert_eq!(again.manifest_digest, pulled.manifest_digest);
}
