//! Export: an overlay upper dir becomes a layer tar.
//!
//! The upper dir holds exactly what a container changed, but in overlay's
//! private spelling. A layer tar must be readable by any runtime, so:
//! - the root comes first as `./`, with its mode, owner, mtime and xattrs
//!   (a chmod or chown of the container's `/` is a change too);
//! - a whiteout (char device 0/0) becomes an empty file `.wh.NAME`;
//! - an opaque directory (`trusted.overlay.opaque=y`) is written as the
//!   directory plus an empty `.wh..wh..opq` inside it;
//! - other xattrs (`security.capability`, `user.*`) travel as PAX records
//!   `SCHILY.xattr.NAME`, the way GNU tar and Docker write them;
//! - files sharing an inode become one file and tar hard links to it;
//! - owners are numbers only (a uid means the same in every image; a user
//!   name would be looked up in the host's /etc/passwd), entries come in
//!   sorted order and keep their mtimes, so the same tree gives the same
//!   bytes.

use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use tar::{Builder, EntryType, Header};

use super::whiteout::{self, OPAQUE_MARKER, OPAQUE_XATTR, OVERLAY_XATTR_PREFIX};
use super::xattrs::{self, Xattr};

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// Tar entries written (markers included).
    pub entries: u64,
    /// Regular files written with their content.
    pub files: u64,
    /// Bytes of file content.
    pub bytes: u64,
    pub whiteouts: u64,
    pub opaque_dirs: u64,
    pub hardlinks: u64,
}

/// Write the layer tar of `upper` to `out`.
pub fn export(upper: &Path, out: impl Write) -> anyhow::Result<ExportStats> {
    let mut ex = Exporter {
        tar: Builder::new(BufWriter::with_capacity(1 << 20, out)),
        seen: HashMap::new(),
        stats: ExportStats::default(),
    };
    // The root first, as `./` (GNU tar and the OCI layer tools do the
    // same): a chmod or chown of the container's `/` lives only there.
    let meta = std::fs::symlink_metadata(upper)
        .with_context(|| format!("cannot export {}", upper.display()))?;
    if !meta.is_dir() {
        bail!(
            "cannot export {}: not a directory (a symlink is not followed)",
            upper.display()
        );
    }
    let root = Path::new("");
    ex.dir_entry(upper, root, &meta)
        .with_context(|| format!("cannot export {}", upper.display()))?;
    ex.dir(upper, root)?;
    let buf = ex.tar.into_inner().context("finishing the layer tar")?;
    buf.into_inner()
        .map_err(|e| e.into_error())
        .context("writing the layer tar")?;
    Ok(ex.stats)
}

/// Export `upper` into the file `tar` (created or truncated).
pub fn export_to_file(upper: &Path, tar: &Path) -> anyhow::Result<ExportStats> {
    let f = File::create(tar).with_context(|| format!("cannot create {}", tar.display()))?;
    export(upper, f)
}

struct Exporter<W: Write> {
    tar: Builder<BufWriter<W>>,
    /// (device, inode) of files already written, and their tar path.
    seen: HashMap<(u64, u64), PathBuf>,
    stats: ExportStats,
}

impl<W: Write> Exporter<W> {
    /// Write the children of `dir` (at `rel` in the tar), sorted by name.
    fn dir(&mut self, dir: &Path, rel: &Path) -> anyhow::Result<()> {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .and_then(|rd| {
                rd.map(|e| e.map(|e| e.file_name()))
                    .collect::<io::Result<Vec<_>>>()
            })
            .with_context(|| format!("cannot read {}", dir.display()))?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            let path = dir.join(&name);
            let rel = rel.join(&name);
            self.one(&path, &rel)
                .with_context(|| format!("cannot export {}", path.display()))?;
        }
        Ok(())
    }

    fn one(&mut self, path: &Path, rel: &Path) -> anyhow::Result<()> {
        let meta = std::fs::symlink_metadata(path)?;
        let ft = meta.file_type();
        // Whiteouts first: overlay may give all whiteouts one shared inode
        // (link count 2 and more), and they must not turn into hard links.
        if ft.is_char_device() && meta.rdev() == 0 {
            let name = whiteout::whiteout_name(rel.file_name().unwrap_or_default());
            let mut h = header(&meta, EntryType::Regular);
            self.stats.whiteouts += 1;
            return self.append(&mut h, &rel.with_file_name(name), &[], io::empty());
        }
        // A socket lives only while its server runs; tar skips them too.
        if ft.is_socket() {
            return Ok(());
        }
        if ft.is_dir() {
            self.dir_entry(path, rel, &meta)?;
            return self.dir(path, rel);
        }
        let x = exported_xattrs(path)?.0;
        if ft.is_symlink() {
            let target = std::fs::read_link(path)?;
            let mut h = header(&meta, EntryType::Symlink);
            return self.link(&mut h, rel, &target, &x);
        }
        if meta.nlink() > 1 {
            if let Some(first) = self.seen.get(&(meta.dev(), meta.ino())).cloned() {
                let mut h = header(&meta, EntryType::Link);
                self.stats.hardlinks += 1;
                return self.link(&mut h, rel, &first, &[]);
            }
            self.seen
                .insert((meta.dev(), meta.ino()), rel.to_path_buf());
        }
        if ft.is_file() {
            let mut h = header(&meta, EntryType::Regular);
            h.set_size(meta.len());
            self.stats.files += 1;
            self.stats.bytes += meta.len();
            return self.append(&mut h, rel, &x, exact(path, meta.len())?);
        }
        self.node(&meta, rel, &x)
    }

    /// The entry of the directory `path` itself (`./` for the root), and
    /// `.wh..wh..opq` inside it when overlay marked it opaque.
    fn dir_entry(&mut self, path: &Path, rel: &Path, meta: &Metadata) -> anyhow::Result<()> {
        let (x, opaque) = exported_xattrs(path)?;
        let mut h = header(meta, EntryType::Directory);
        self.append(&mut h, rel, &x, io::empty())?;
        if opaque {
            let mut m = header(meta, EntryType::Regular);
            m.set_mode(0o644);
            self.stats.opaque_dirs += 1;
            self.append(&mut m, &rel.join(OPAQUE_MARKER), &[], io::empty())?;
        }
        Ok(())
    }

    /// A device node or a named pipe.
    fn node(&mut self, meta: &Metadata, rel: &Path, x: &[Xattr]) -> anyhow::Result<()> {
        let ft = meta.file_type();
        let ty = if ft.is_char_device() {
            EntryType::Char
        } else if ft.is_block_device() {
            EntryType::Block
        } else if ft.is_fifo() {
            EntryType::Fifo
        } else {
            bail!("unknown file type {:?}", ft);
        };
        let mut h = header(meta, ty);
        if ty != EntryType::Fifo {
            h.set_device_major(rustix::fs::major(meta.rdev()))?;
            h.set_device_minor(rustix::fs::minor(meta.rdev()))?;
        }
        self.append(&mut h, rel, x, io::empty())
    }

    fn append(
        &mut self,
        h: &mut Header,
        rel: &Path,
        x: &[Xattr],
        data: impl io::Read,
    ) -> anyhow::Result<()> {
        self.pax(x)?;
        self.stats.entries += 1;
        let shown = if h.entry_type() == EntryType::Directory {
            dir_path(rel)
        } else {
            rel.to_path_buf()
        };
        self.tar.append_data(h, shown, data)?;
        Ok(())
    }

    fn link(
        &mut self,
        h: &mut Header,
        rel: &Path,
        target: &Path,
        x: &[Xattr],
    ) -> anyhow::Result<()> {
        self.pax(x)?;
        self.stats.entries += 1;
        self.tar.append_link(h, rel, target)?;
        Ok(())
    }

    /// The xattrs of the next entry, as a PAX extended header before it.
    fn pax(&mut self, x: &[Xattr]) -> anyhow::Result<()> {
        if x.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = x.iter().map(|(k, _)| format!("SCHILY.xattr.{k}")).collect();
        let records = keys
            .iter()
            .map(String::as_str)
            .zip(x.iter().map(|(_, v)| v.as_slice()));
        self.tar.append_pax_extensions(records)?;
        Ok(())
    }
}

/// Open a regular file without following a symlink (one swapped in since
/// we looked would otherwise smuggle a host file into the layer), to be
/// read for exactly `len` bytes.
fn exact(path: &Path, len: u64) -> io::Result<Exact<io::Take<File>>> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    Ok(Exact {
        inner: f.take(len),
        left: len,
    })
}

/// Exactly the size the tar header announced, or an error: a file that
/// shrank while being read would leave a tar whose header lies.
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: io::Read> io::Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            let msg = "the file shrank while being exported: stop the container before exporting its layer";
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, msg));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// `dir/`: GNU tar and Docker write directories with a trailing slash;
/// the root is `./`.
fn dir_path(rel: &Path) -> PathBuf {
    if rel.as_os_str().is_empty() {
        return PathBuf::from("./");
    }
    let mut s = rel.as_os_str().to_os_string();
    s.push("/");
    PathBuf::from(s)
}

/// A ustar header with the numbers that identify a file in every image:
/// type, permission bits, numeric owner, mtime. No user or group names.
fn header(meta: &Metadata, ty: EntryType) -> Header {
    let mut h = Header::new_ustar();
    h.set_entry_type(ty);
    h.set_mode(meta.mode() & 0o7777);
    h.set_uid(meta.uid() as u64);
    h.set_gid(meta.gid() as u64);
    h.set_mtime(meta.mtime().max(0) as u64);
    h.set_size(0);
    h
}

/// The xattrs that belong in the layer, and whether overlay marked the
/// directory opaque. overlay's own `trusted.overlay.*` bookkeeping stays
/// behind; a redirect or metacopy xattr means the upper dir cannot stand on
/// its own as a layer, so export refuses it.
fn exported_xattrs(path: &Path) -> anyhow::Result<(Vec<Xattr>, bool)> {
    let mut opaque = false;
    let mut keep = Vec::new();
    for (name, value) in xattrs::read_all(path)? {
        let Some(what) = name.strip_prefix(OVERLAY_XATTR_PREFIX) else {
            keep.push((name, value));
            continue;
        };
        match what {
            "redirect" | "metacopy" => bail!(
                "overlay left {name} here: this upper dir was mounted with redirect_dir=on or metacopy=on, \
                 so it is not a self-contained layer; mount with redirect_dir=off,metacopy=off"
            ),
            _ if name == OPAQUE_XATTR => opaque = value == b"y",
            _ => {}
        }
    }
    Ok((keep, opaque))
}
