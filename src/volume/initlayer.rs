//! The init layer: the files a container needs of its own — /etc/hostname,
//! /etc/hosts, /etc/resolv.conf — without touching the image.
//!
//! Docker writes them into a small per-container layer, `<id>-init`, laid
//! between the image's layers and the container's upper dir. We do the
//! same: `<container dir>/init` becomes the topmost lower layer. Every
//! container gets its own copies, the image stays byte-for-byte as it was,
//! and a write inside the container still copies up into its upper dir.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The files of the init layer, in `/etc`.
pub const FILES: [&str; 3] = ["hostname", "hosts", "resolv.conf"];

/// Write `<dir>/init/etc/{hostname,hosts,resolv.conf}` and return the
/// layer to put on top of `image` (the image's layers, lowest first).
pub fn create(dir: &Path, hostname: &str, image: &[PathBuf]) -> anyhow::Result<PathBuf> {
    let layer = dir.join("init");
    let etc = layer.join("etc");
    std::fs::create_dir_all(&etc).with_context(|| format!("creating {}", etc.display()))?;
    like_image_etc(&etc, image)?;
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let contents = [
        format!("{hostname}\n"),
        hosts(hostname),
        resolv_conf(&host_resolv),
    ];
    for (name, text) in FILES.iter().zip(contents) {
        std::fs::write(etc.join(name), text)
            .with_context(|| format!("writing {}/{name}", etc.display()))?;
        std::fs::set_permissions(etc.join(name), std::fs::Permissions::from_mode(0o644))?;
    }
    Ok(layer)
}

/// In an overlay the topmost layer's directory lends the merged directory
/// its owner and mode: give our /etc those of the image's /etc.
fn like_image_etc(etc: &Path, image: &[PathBuf]) -> anyhow::Result<()> {
    let theirs = image
        .iter()
        .rev()
        .find_map(|l| std::fs::metadata(l.join("etc")).ok());
    let (mode, uid, gid) = theirs
        .map(|m| (m.mode() & 0o7777, m.uid(), m.gid()))
        .unwrap_or((0o755, 0, 0));
    std::os::unix::fs::chown(etc, Some(uid), Some(gid))?;
    std::fs::set_permissions(etc, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// localhost, and the container's own name on 127.0.1.1 (as Debian does
/// for a host without a fixed address).
pub fn hosts(hostname: &str) -> String {
    format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n"
    )
}

/// The host's resolv.conf without loopback name servers: 127.0.0.53 (a
/// local resolver) is the host's loopback, which a container in its own
/// network namespace cannot reach.
pub fn resolv_conf(host: &str) -> String {
    let mut out: String = host
        .lines()
        .filter(|l| {
            let mut w = l.split_whitespace();
            !(w.next() == Some("nameserver")
                && w.next()
                    .is_some_and(|a| a.starts_with("127.") || a == "::1"))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    if out.is_empty() {
        out.push_str("# no name servers: the host has none a container could reach\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_name_servers_are_dropped() {
        let host = "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\noptions edns0\nnameserver ::1\n";
        assert_eq!(
            resolv_conf(host),
            "# generated\nnameserver 10.0.0.2\noptions edns0\n"
        );
        assert!(resolv_conf("").starts_with('#'));
    }

    #[test]
    fn hosts_names_the_container() {
        assert!(hosts("box").lines().any(|l| l == "127.0.1.1\tbox"));
    }

    #[test]
    fn the_init_layer_holds_three_files_and_leaves_the_image_alone() {
        let t = tempfile::tempdir().unwrap();
        let image = t.path().join("image");
        std::fs::create_dir_all(image.join("etc")).unwrap();
        std::fs::write(image.join("etc/hostname"), "image\n").unwrap();
        let layer = create(&t.path().join("c"), "box", std::slice::from_ref(&image)).unwrap();
        assert_eq!(
            std::fs::read_to_string(layer.join("etc/hostname")).unwrap(),
            "box\n"
        );
        assert!(FILES.iter().all(|f| layer.join("etc").join(f).is_file()));
        assert_eq!(
            std::fs::read_to_string(image.join("etc/hostname")).unwrap(),
            "image\n"
        );
    }
}
