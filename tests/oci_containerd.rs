//! containerd drives wharf-oci through its runc shim (the path by which a
//! Kubernetes node drives a runtime): the test starts a containerd of its
//! own (root, state, sockets under its test root), imports a local OCI
//! image with `ctr image import` (a layout built here from the built-in
//! rootfs; nothing is pulled), then `ctr run --runc-binary`, `ctr task
//! exec`, pause/resume and kill. The same with runc, side by side.

mod common;
mod oci_common;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use oci_common::{
    eventually, exited_with, kill_processes_naming, need, remove_cgroup_tree, stderr, stdout, Peer,
    TestRoot,
};

const IMAGE: &str = "localhost/wharf-test:1";

struct Containerd {
    t: TestRoot,
    daemon: Option<Child>,
    peer: Peer,
}

impl Containerd {
    fn start(peer: Peer) -> Containerd {
        need("containerd");
        need("ctr");
        need("containerd-shim-runc-v2");
        let t = TestRoot::new();
        let d = t.path().display().to_string();
        let config = t.path().join("containerd.toml");
        std::fs::write(
            &config,
            format!(
                "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n\
                 disabled_plugins = [\"io.containerd.grpc.v1.cri\", \"io.containerd.snapshotter.v1.btrfs\", \
                 \"io.containerd.snapshotter.v1.zfs\", \"io.containerd.snapshotter.v1.devmapper\", \
                 \"io.containerd.snapshotter.v1.aufs\"]\n\
                 [grpc]\n  address = \"{d}/containerd.sock\"\n\
                 [ttrpc]\n  address = \"{d}/containerd.sock.ttrpc\"\n\
                 [debug]\n  address = \"{d}/debug.sock\"\n\
                 [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{d}/opt\"\n"
            ),
        )
        .unwrap();
        let log = std::fs::File::create(t.path().join("containerd.log")).unwrap();
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(&config)
            .env("WHARF_ROOT", t.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let c = Containerd {
            t,
            daemon: Some(daemon),
            peer,
        };
        assert!(
            eventually(|| c.ctr(&["version"]).status.success()),
            "containerd did not come up: {}",
            std::fs::read_to_string(c.t.path().join("containerd.log")).unwrap_or_default()
        );
        let tar = c.oci_archive();
        let out = c.ctr(&[
            "image",
            "import",
            "--snapshotter",
            "native",
            tar.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "import: {}", stderr(&out));
        c
    }

    /// A namespace of this test's own: containerd's state and, for runc,
    /// the cgroups (`/<namespace>/<id>`) are found and removed by it.
    fn namespace(&self) -> String {
        wharf::paths::host_tag_for(self.t.path())
    }

    fn ctr<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Output {
        Command::new("ctr")
            .arg("--address")
            .arg(self.t.path().join("containerd.sock"))
            .arg("--namespace")
            .arg(self.namespace())
            .args(args)
            .env("WHARF_ROOT", self.t.path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// `ctr run` with this peer as the shim's runc, its state root ours.
    fn run_args(&self) -> Vec<String> {
        let (binary, root) = self.peer.binary_and_root(self.t.path());
        [
            "run".to_string(),
            "--snapshotter".into(),
            "native".into(),
            "--fifo-dir".into(),
            self.t.path().join("fifo").display().to_string(),
            "--runc-binary".into(),
            binary.display().to_string(),
            "--runc-root".into(),
            root.display().to_string(),
        ]
        .to_vec()
    }

    /// An OCI image layout of the built-in rootfs, as a tar: one
    /// uncompressed layer, its config, a manifest and the index naming it.
    fn oci_archive(&self) -> PathBuf {
        let dir = self.t.path().join("image");
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        let blob = |data: &[u8]| -> (String, usize) {
            let tmp = dir.join("blob.tmp");
            std::fs::write(&tmp, data).unwrap();
            let out = Command::new("sha256sum").arg(&tmp).output().unwrap();
            let hex = stdout(&out).split_whitespace().next().unwrap().to_string();
            std::fs::rename(&tmp, blobs.join(&hex)).unwrap();
            (format!("sha256:{hex}"), data.len())
        };
        let rootfs = self.t.rootfs();
        let layer = Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .args(["-cf", "-", "."])
            .output()
            .unwrap();
        assert!(layer.status.success());
        let (layer_digest, layer_size) = blob(&layer.stdout);
        let config = serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Env": ["PATH=/bin:/usr/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]}
        });
        let (config_digest, config_size) = blob(config.to_string().as_bytes());
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": config_size},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer_digest, "size": layer_size}]
        });
        let (manifest_digest, manifest_size) = blob(manifest.to_string().as_bytes());
        let index = serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "digest": manifest_digest, "size": manifest_size,
                           "annotations": {"io.containerd.image.name": IMAGE,
                                           "org.opencontainers.image.ref.name": "1"}}]
        });
        std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        let tar = self.t.path().join("image.tar");
        let out = Command::new("tar")
            .arg("-C")
            .arg(&dir)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        tar
    }

    fn task_status(&self, id: &str) -> String {
        let ls = stdout(&self.ctr(&["task", "ls"]));
        ls.lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .and_then(|l| l.split_whitespace().nth(2))
            .unwrap_or("")
            .to_string()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        for c in stdout(&self.ctr(&["container", "ls", "-q"])).lines() {
            let _ = self.ctr(&["task", "kill", "-s", "SIGKILL", c]);
            let _ = self.ctr(&["task", "rm", "-f", c]);
            let _ = self.ctr(&["container", "rm", c]);
        }
        if let Some(mut d) = self.daemon.take() {
            let _ = d.kill();
            let _ = d.wait();
        }
        // Shims (and anything they left) name our socket in their args.
        kill_processes_naming(self.t.path());
        let (binary, root) = self.peer.binary_and_root(self.t.path());
        let _ = Command::new(binary)
            .arg("--root")
            .arg(root.join(self.namespace()))
            .args(["delete", "--force", "c1"])
            .env("WHARF_ROOT", self.t.path())
            .output();
        // runc's cgroups live under /<namespace>/ in every hierarchy.
        remove_cgroup_tree(&self.namespace());
        // containerd 1.6 keeps shim sockets in /run/containerd/s whatever
        // its state dir is: removed if nothing else is in there.
        let _ = std::fs::remove_dir("/run/containerd/s");
        let _ = std::fs::remove_dir("/run/containerd/fifo");
        let _ = std::fs::remove_dir("/run/containerd");
    }
}

fn lifecycle(peer: Peer) {
    let c = Containerd::start(peer);
    // Foreground, --rm: the exit code passes through the shim.
    let mut args = c.run_args();
    args.extend(["--rm", IMAGE, "r1", "/bin/sh", "-c", "echo hi; exit 5"].map(String::from));
    let out = c.ctr(&args);
    assert_eq!(out.status.code(), Some(5), "{peer:?}: {}", stderr(&out));
    assert_eq!(stdout(&out), "hi\n");

    // Detached: exec, pause, resume, kill.
    let mut args = c.run_args();
    args.extend(["-d", IMAGE, "c1", "/bin/sleep", "60"].map(String::from));
    let out = c.ctr(&args);
    assert!(out.status.success(), "{peer:?} run -d: {}", stderr(&out));
    assert_eq!(c.task_status("c1"), "RUNNING");
    let fifo = c.t.path().join("fifo");
    let out = c.ctr(&[
        "task",
        "exec",
        "--fifo-dir",
        fifo.to_str().unwrap(),
        "--exec-id",
        "e1",
        "c1",
        "/bin/sh",
        "-c",
        "echo in-exec; exit 4",
    ]);
    exited_with(&out, 4, "in-exec\n", &format!("{peer:?} exec"));
    assert!(c.ctr(&["task", "pause", "c1"]).status.success());
    assert_eq!(c.task_status("c1"), "PAUSED");
    assert!(c.ctr(&["task", "resume", "c1"]).status.success());
    assert_eq!(c.task_status("c1"), "RUNNING");
    let pid: i32 = stdout(&c.ctr(&["task", "ls"]))
        .lines()
        .find(|l| l.starts_with("c1 "))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|p| p.parse().ok())
        .expect("c1's pid");
    let out = c.ctr(&["task", "kill", "-s", "SIGKILL", "c1"]);
    assert!(out.status.success(), "{peer:?} kill: {}", stderr(&out));
    assert!(eventually(|| c.task_status("c1") == "STOPPED"));
    assert!(!wharf::probe::procs::alive(pid));
    assert!(c.ctr(&["task", "rm", "c1"]).status.success());
    assert!(c.ctr(&["container", "rm", "c1"]).status.success());
    assert_eq!(stdout(&c.ctr(&["container", "ls", "-q"])), "");
}

#[test]
fn containerd_drives_wharf_oci() {
    lifecycle(Peer::WharfOci)
}

#[test]
fn containerd_drives_runc() {
    lifecycle(Peer::Runc)
}
