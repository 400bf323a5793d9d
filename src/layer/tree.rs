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

use super::xattrs;

/// What kind of file a node is, with what identifies its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A regular file: its size and a hash of its bytes.
    File { size: u64, digest: u64 },
    Dir,
    Symlink(PathBuf),
    Char { major: u32, minor: u32 },
    Block { major: u32, minor: u32 },
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
        parts.push(format!("xattrs {} vs {}", show_xattrs(&a.xattrs), show_xattrs(&b.xattrs)));
    }
    parts.join(", ")
}

/// `name="value"` pairs, as getfattr prints them.
pub fn show_xattrs(x: &[(String, Vec<u8>)]) -> String {
    let shown: Vec<String> = x
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::sys::decode::quote(std::ffi::OsStr::from_bytes(v))))
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
        let mut line = format!("  {} {:>4}:{:<4} {}", mode_string(node), node.uid, node.gid, path.display());
        match &node.kind {
            Kind::Char { major: 0, minor: 0 } => line.push_str("  char 0/0 = overlay whiteout: hides the lower file"),
            Kind::Char { major, minor } | Kind::Block { major, minor } => {
                line.push_str(&format!("  device {major}/{minor}"))
            }
            Kind::Symlink(t) => line.push_str(&format!(" -> {}", t.display())),
            _ => {}
        }
        if !node.xattrs.is_empty() {
            line.push_str(&format!("  {}", show_xattrs(&node.xattrs)));
        }
        if node.xattrs.iter().any(|(k, v)| k == super::whiteout::OPAQUE_XATTR && v == b"y") {
            line.push_str(" = opaque: lower content hidden");
        }
        out.push_str(&line);
        out.push('\n');
    }
    Ok(out)
}
