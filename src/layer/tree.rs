//! A directory tree as a sorted list of what a layer must carry: names,
//! types, modes, owners, xattrs, link targets and contents. Two trees are
//! "the same filesystem" when their manifests are equal; the chapter and
//! the round-trip tests compare an overlay's merged view this way.

use std::collections::BTreeMap;
use std::hash::Hasher;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::whiteout::{OPAQUE_XATTR, OVERLAY_XATTR_PREFIX};
use super::xattrs;

/// What kind of file a node is, with what identifies its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A regular file: its size and a hash of its bytes.
    File {
        size: u64,
        digest: u64,
    },
    Dir,
    Symlink(PathBuf),
    Char {
        major: u32,
        minor: u32,
    },
    Block {
        major: u32,
        minor: u32,
    },
    Fifo,
    Socket,
}

/// One file of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: Kind,
    /// Permission bits with setuid/setgid/sticky (`st_mode & 07777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// Every file below a root (the root itself excluded), by relative path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub nodes: BTreeMap<PathBuf, Node>,
}

/// Read the tree below `root` without following symlinks.
pub fn manifest(root: &Path) -> io::Result<Manifest> {
    let mut m = Manifest::default();
    walk(root, Path::new(""), &mut m)?;
    Ok(m)
}

fn walk(root: &Path, rel: &Path, m: &mut Manifest) -> io::Result<()> {
    let mut names: Vec<_> = std::fs::read_dir(root.join(rel))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()?;
    names.sort();
    for name in names {
        let rel = rel.join(name);
        let path = root.join(&rel);
        let node = node(&path)?;
        let is_dir = node.kind == Kind::Dir;
        m.nodes.insert(rel.clone(), node);
        if is_dir {
            walk(root, &rel, m)?;
        }
    }
    Ok(())
}

/// Describe one file as found on disk.
pub fn node(path: &Path) -> io::Result<Node> {
    let meta = std::fs::symlink_metadata(path)?;
    let ft = meta.file_type();
    let dev = || {
        let rdev = meta.rdev();
        (rustix::fs::major(rdev), rustix::fs::minor(rdev))
    };
    let kind = if ft.is_dir() {
        Kind::Dir
    } else if ft.is_symlink() {
        Kind::Symlink(std::fs::read_link(path)?)
    } else if ft.is_char_device() {
        let (major, minor) = dev();
        Kind::Char { major, minor }
    } else if ft.is_block_device() {
        let (major, minor) = dev();
        Kind::Block { major, minor }
    } else if ft.is_fifo() {
        Kind::Fifo
    } else if ft.is_socket() {
        Kind::Socket
    } else {
        Kind::File {
            size: meta.len(),
            digest: digest(path)?,
        }
    };
    Ok(Node {
        kind,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        xattrs: xattrs::read_all(path)?,
    })
}

/// A fast non-cryptographic hash of a file's bytes: enough to tell two
/// copies apart in a comparison we made ourselves.
fn digest(path: &Path) -> io::Result<u64> {
    let mut f = std::fs::File::open(path)?;
    let mut h = std::hash::DefaultHasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(h.finish());
        }
        h.write(&buf[..n]);
    }
}

impl Manifest {
    /// Only what a layer carries: overlay's bookkeeping xattrs (origin,
    /// impure, ...) dropped, its opaque mark kept.
    pub fn layer_content(mut self) -> Manifest {
        let private = |k: &str| k.starts_with(OVERLAY_XATTR_PREFIX) && k != OPAQUE_XATTR;
        for node in self.nodes.values_mut() {
            node.xattrs.retain(|(k, _)| !private(k));
        }
        self
    }

    /// What differs from `other`, one line per path: `+` only there, `-`
    /// only here, `~` in both but different (and how).
    pub fn diff(&self, other: &Manifest) -> Vec<String> {
        let mut out = Vec::new();
        for (p, a) in &self.nodes {
            match other.nodes.get(p) {
                None => out.push(format!("- {}", p.display())),
                Some(b) if a != b => out.push(format!("~ {}: {}", p.display(), node_diff(a, b))),
                Some(_) => {}
            }
        }
        for p in other.nodes.keys().filter(|p| !self.nodes.contains_key(*p)) {
            out.push(format!("+ {}", p.display()));
        }
        out
    }
}

fn node_diff(a: &Node, b: &Node) -> String {
    let mut parts = Vec::new();
    if a.kind != b.kind {
        parts.push(format!("{:?} vs {:?}", a.kind, b.kind));
    }
    if a.mode != b.mode {
        parts.push(format!("mode {:04o} vs {:04o}", a.mode, b.mode));
    }
    if (a.uid, a.gid) != (b.uid, b.gid) {
        parts.push(format!("owner {}:{} vs {}:{}", a.uid, a.gid, b.uid, b.gid));
    }
    if a.xattrs != b.xattrs {
        parts.push(format!(
            "xattrs {} vs {}",
            show_xattrs(&a.xattrs),
            show_xattrs(&b.xattrs)
        ));
    }
    parts.join(", ")
}

/// `name="value"` pairs, as getfattr prints them; a binary value (a file
/// capability, overlay's file handle in trusted.overlay.origin) as its size.
pub fn show_xattrs(x: &[(String, Vec<u8>)]) -> String {
    let shown: Vec<String> = x
        .iter()
        .map(|(k, v)| match v.iter().all(|b| (0x20..0x7f).contains(b)) {
            true => format!(
                "{k}={}",
                crate::sys::decode::quote(std::ffi::OsStr::from_bytes(v))
            ),
            false => format!("{k}=<{} bytes>", v.len()),
        })
        .collect();
    format!("[{}]", shown.join(" "))
}

/// `ls -l`-style type and permission letters: `c---------`, `drwxr-xr-x`.
pub fn mode_string(node: &Node) -> String {
    let t = match node.kind {
        Kind::File { .. } => '-',
        Kind::Dir => 'd',
        Kind::Symlink(_) => 'l',
        Kind::Char { .. } => 'c',
        Kind::Block { .. } => 'b',
        Kind::Fifo => 'p',
        Kind::Socket => 's',
    };
    let mut s = String::from(t);
    for shift in [6, 3, 0] {
        let bits = (node.mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

/// What an overlay upper dir holds, one line per file, with what overlayfs
/// makes of it: `c--------- 0:0 etc/motd  char 0/0 = whiteout`.
pub fn describe(root: &Path) -> io::Result<String> {
    let m = manifest(root)?;
    let mut out = String::new();
    for (path, node) in &m.nodes {
        let mut line = format!(
            "  {} {:>4}:{:<4} {}",
            mode_string(node),
            node.uid,
            node.gid,
            path.display()
        );
        match &node.kind {
            Kind::Char { major: 0, minor: 0 } => {
                line.push_str("  char 0/0 = overlay whiteout: hides the lower file")
            }
            Kind::Char { major, minor } | Kind::Block { major, minor } => {
                line.push_str(&format!("  device {major}/{minor}"))
            }
            Kind::Symlink(t) => line.push_str(&format!(" -> {}", t.display())),
            _ => {}
        }
        if !node.xattrs.is_empty() {
            line.push_str(&format!("  {}", show_xattrs(&node.xattrs)));
        }
        if node
            .xattrs
            .iter()
            .any(|(k, v)| k == OPAQUE_XATTR && v == b"y")
        {
            line.push_str(" = opaque: lower content hidden");
        }
        out.push_str(&line);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(kind: Kind, mode: u32) -> Node {
        Node {
            kind,
            mode,
            uid: 0,
            gid: 0,
            xattrs: Vec::new(),
        }
    }

    #[test]
    fn mode_strings_read_like_ls() {
        assert_eq!(
            mode_string(&node(Kind::Char { major: 0, minor: 0 }, 0)),
            "c---------"
        );
        assert_eq!(mode_string(&node(Kind::Dir, 0o755)), "drwxr-xr-x");
        assert_eq!(
            mode_string(&node(Kind::File { size: 0, digest: 0 }, 0o640)),
            "-rw-r-----"
        );
    }

    #[test]
    fn diff_names_what_differs() {
        let mut a = Manifest::default();
        a.nodes.insert("same".into(), node(Kind::Dir, 0o755));
        a.nodes.insert("gone".into(), node(Kind::Fifo, 0o600));
        a.nodes.insert("mode".into(), node(Kind::Fifo, 0o600));
        let mut b = a.clone();
        b.nodes.remove(Path::new("gone"));
        b.nodes.get_mut(Path::new("mode")).unwrap().mode = 0o644;
        b.nodes.insert("new".into(), node(Kind::Dir, 0o755));
        assert_eq!(a.diff(&b), ["- gone", "~ mode: mode 0600 vs 0644", "+ new"]);
        assert!(a.diff(&a).is_empty());
    }

    #[test]
    fn layer_content_keeps_only_the_opaque_mark() {
        let mut m = Manifest::default();
        let mut n = node(Kind::Dir, 0o755);
        n.xattrs = vec![
            ("trusted.overlay.opaque".into(), b"y".to_vec()),
            ("trusted.overlay.origin".into(), vec![0, 1]),
            ("user.x".into(), b"1".to_vec()),
        ];
        m.nodes.insert("d".into(), n);
        let kept: Vec<String> = m.layer_content().nodes[Path::new("d")]
            .xattrs
            .iter()
            .map(|x| x.0.clone())
            .collect();
        assert_eq!(kept, ["trusted.overlay.opaque", "user.x"]);
    }
}
