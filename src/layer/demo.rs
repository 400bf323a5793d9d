//! Two small lower layers for chapter 06 and the tests: a base system and
//! an app on top, with the things a layer must carry through a round trip
//! (a hard link, a symlink, xattrs, a file capability, another owner).
//! Chapter 06 lays them over the built-in rootfs and has a container
//! delete some of their files: its command and its checks live here too.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::union::LayerArgs;

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
fn check_inside(flag: &str, p: &Path) -> anyhow::Result<()> {
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

/// The lesson's lower layers, lowest first: those named with `--layer` or
/// `--layers`, or else a bootable image: the built-in rootfs at the bottom
/// and the two demo layers on top of it, built afresh in `dir/layers`.
pub fn lowers(args: &LayerArgs, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let given = !args.layer.is_empty() || args.layers.is_some();
    let mut lowers = args.lowers(|| crate::rootfs::choose(None))?;
    if !given {
        lowers.extend(build(&dir.join("layers"))?);
    }
    Ok(lowers)
}

/// The lesson deletes what a lower layer has: `--rm` must name a file there
/// and `--recreate` a directory (the topmost layer that has the name
/// counts), both given relative to the container's root.
pub fn check_targets(lowers: &[PathBuf], rm: &Path, recreate: &Path) -> anyhow::Result<()> {
    check_inside("--rm", rm)?;
    check_inside("--recreate", recreate)?;
    let top = |p: &Path| {
        lowers
            .iter()
            .rev()
            .find_map(|l| std::fs::symlink_metadata(l.join(p)).ok())
    };
    match top(rm) {
        Some(m) if !m.is_dir() => {}
        Some(_) => anyhow::bail!(
            "--rm {}: is a directory in the layers; name a file (a directory goes with --recreate)",
            rm.display()
        ),
        None => anyhow::bail!(
            "--rm {}: no lower layer has it; name a file the layers have, e.g. etc/motd",
            rm.display()
        ),
    }
    if !top(recreate).is_some_and(|m| m.is_dir()) {
        anyhow::bail!(
            "--recreate {}: no lower layer has this directory; name one they have, e.g. etc/config",
            recreate.display()
        );
    }
    Ok(())
}

/// The container's command: a shell that deletes a lower file, deletes a
/// lower directory and makes it again with a new file in it. `set -e`
/// stops at the first command that fails.
pub fn deletions(rm: &Path, recreate: &Path) -> Vec<String> {
    let (f, d) = (sh_word(rm), sh_word(recreate));
    let script = format!(
        "set -e; rm /{f}; rm -rf /{d}; mkdir /{d}; echo made after rm -rf > /{d}/fresh.conf"
    );
    vec!["/bin/sh".into(), "-c".into(), script]
}

/// A path as one shell word: as it is when it holds only characters the
/// shell leaves alone, else in single quotes (a `'` inside becomes `'\''`).
fn sh_word(p: &Path) -> String {
    let s = p.to_string_lossy();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_paths_stay_one_shell_word() {
        assert_eq!(sh_word(Path::new("etc/motd")), "etc/motd");
        assert_eq!(sh_word(Path::new("a b;$(x)")), "'a b;$(x)'");
        assert_eq!(sh_word(Path::new("it's")), r"'it'\''s'");
    }

    #[test]
    fn targets_must_be_in_the_layers() {
        let t = tempfile::tempdir().unwrap();
        let lowers = build(t.path()).unwrap();
        let ok = check_targets(&lowers, Path::new("etc/motd"), Path::new("etc/config"));
        assert!(ok.is_ok(), "{ok:?}");
        for (rm, re, want) in [
            ("etc/nope", "etc/config", "no lower layer has it"),
            ("etc/config", "etc/config", "is a directory"),
            ("etc/motd", "etc/motd", "no lower layer has this directory"),
        ] {
            let e = check_targets(&lowers, Path::new(rm), Path::new(re)).unwrap_err();
            assert!(e.to_string().contains(want), "{rm} {re}: {e}");
        }
    }
}
