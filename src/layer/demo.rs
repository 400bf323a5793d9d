//! Two small lower layers for chapter 06 and the tests: a base system and
//! an app on top, with the things a layer must carry through a round trip
//! (a hard link, a symlink, xattrs, a file capability, another owner).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// `security.capability` for `cap_net_bind_service+ep`, as setcap writes
/// it: revision 2 with the effective flag, then permitted/inheritable
/// words for capabilities 0-31 and 32-63.
pub const CAP_NET_BIND_SERVICE_EP: [u8; 20] = {
    let mut v = [0u8; 20];
    v[0] = 0x01; // VFS_CAP_FLAGS_EFFECTIVE
    v[3] = 0x02; // VFS_CAP_REVISION_2
    v[5] = 0x04; // permitted: bit 10 = CAP_NET_BIND_SERVICE
    v
};

/// One file of a demo layer.
struct Spec {
    path: &'static str,
    content: &'static str,
    mode: u32,
}

const BASE: &[Spec] = &[
    Spec {
        path: "etc/motd",
        content: "Welcome to the base layer.\n",
        mode: 0o644,
    },
    Spec {
        path: "etc/hostname",
        content: "wharf\n",
        mode: 0o644,
    },
    Spec {
        path: "etc/config/base.conf",
        content: "answer = 42\n",
        mode: 0o644,
    },
    Spec {
        path: "etc/config/extra/old.conf",
        content: "stale = yes\n",
        mode: 0o600,
    },
    Spec {
        path: "usr/bin/hello",
        content: "#!/bin/sh\necho hello\n",
        mode: 0o755,
    },
    Spec {
        path: "usr/share/doc/README",
        content: "The base layer.\n",
        mode: 0o644,
    },
];

const APP: &[Spec] = &[
    Spec {
        path: "etc/config/app.conf",
        content: "port = 8080\n",
        mode: 0o644,
    },
    Spec {
        path: "srv/data.txt",
        content: "app data\n",
        mode: 0o640,
    },
];

/// A fixed mtime (2024-01-01) so the layers are the same on every run.
pub const MTIME: u64 = 1_704_067_200;

/// Build `dir/base` and `dir/app` afresh; returns them lowest first.
pub fn build(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let base = dir.join("base");
    let app = dir.join("app");
    for (layer, files) in [(&base, BASE), (&app, APP)] {
        if layer.exists() {
            std::fs::remove_dir_all(layer)?;
        }
        write_files(layer, files)
            .with_context(|| format!("cannot build demo layer {}", layer.display()))?;
    }
    std::fs::hard_link(
        base.join("usr/share/doc/README"),
        base.join("usr/share/doc/README.link"),
    )?;
    std::fs::create_dir_all(base.join("usr/lib"))?;
    std::os::unix::fs::symlink("usr/lib", base.join("lib"))?;
    let hello = base.join("usr/bin/hello");
    rustix::fs::lsetxattr(
        &hello,
        "user.wharf.origin",
        b"base",
        rustix::fs::XattrFlags::empty(),
    )?;
    rustix::fs::lsetxattr(
        &hello,
        "security.capability",
        &CAP_NET_BIND_SERVICE_EP,
        rustix::fs::XattrFlags::empty(),
    )?;
    if nix::unistd::geteuid().is_root() {
        std::os::unix::fs::lchown(app.join("srv/data.txt"), Some(1000), Some(1000))?;
    }
    for layer in [&base, &app] {
        set_mtimes(layer)?;
    }
    Ok(vec![base, app])
}

fn write_files(layer: &Path, files: &[Spec]) -> std::io::Result<()> {
    for f in files {
        let p = layer.join(f.path);
        std::fs::create_dir_all(p.parent().unwrap_or(layer))?;
        std::fs::write(&p, f.content)?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(f.mode))?;
    }
    Ok(())
}

/// Every file and directory below `dir` gets [`MTIME`], children first.
fn set_mtimes(dir: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            set_mtimes(&e.path())?;
        } else {
            super::stage::set_mtime(&e.path(), MTIME)?;
        }
    }
    super::stage::set_mtime(dir, MTIME)
}

/// A path given on the command line that must stay inside the container's
/// root: relative, no `..`, and not the root itself.
pub fn check_inside(flag: &str, p: &Path) -> anyhow::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    match super::whiteout::components(p.as_os_str().as_bytes()) {
        Ok(c) if !c.is_empty() => Ok(()),
        Ok(_) => anyhow::bail!(
            "{flag} {}: names the root itself; give a path below it",
            p.display()
        ),
        Err(e) => anyhow::bail!(
            "{flag} {}: {e}; give a path relative to the container's root",
            p.display()
        ),
    }
}

/// Get a lesson's work dir ready: `dir` emptied, and the lower layers (the
/// `given` ones, checked, or the demo ones built in `dir/layers`) returned
/// as absolute paths, lowest first.
pub fn prepare_run(dir: &Path, given: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut lowers = Vec::new();
    for l in given {
        let abs = std::fs::canonicalize(l)
            .ok()
            .filter(|p| p.is_dir())
            .with_context(|| {
                format!(
                    "--layer {}: not a directory; give a layer directory",
                    l.display()
                )
            })?;
        if abs.starts_with(dir) {
            anyhow::bail!(
                "--layer {}: lies inside the work dir {}, which each run empties",
                l.display(),
                dir.display()
            );
        }
        crate::union::check_option_path(&abs)?;
        lowers.push(abs);
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot empty {}", dir.display()))?;
    }
    if lowers.is_empty() {
        lowers = build(&dir.join("layers"))?;
    }
    Ok(lowers)
}
