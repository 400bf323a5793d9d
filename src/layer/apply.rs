//! Apply: a layer tar is unpacked onto a directory, whiteouts turned back
//! into deletions, and nothing written outside the directory.
//!
//! Two kinds of target:
//! - [`Target::Plain`]: a directory holding the lower layers flattened
//!   (what the copy driver and `docker export` see). `.wh.NAME` deletes NAME
//!   there, `.wh..wh..opq` deletes every child the lower layers put in its
//!   directory, wherever in the tar it comes.
//! - [`Target::OverlayUpper`]: an empty dir that will be an overlay layer.
//!   `.wh.NAME` becomes overlay's whiteout (char device 0/0) and
//!   `.wh..wh..opq` the xattr `trusted.overlay.opaque=y`.
//!
//! Either way no `.wh.` file ever appears in the result.
//!
//! Safety. A layer is untrusted input. Every entry is placed by walking
//! from an open fd of the root one component at a time with `O_NOFOLLOW`:
//! a symlink on the way (from the layer itself, or swapped in meanwhile)
//! stops the walk instead of leading it elsewhere, `..` and absolute names
//! never get that far, and a hard link may only point inside. Devices are
//! refused unless asked for. All of it happens in a staging copy that
//! replaces the target only when the whole layer went in (see `stage`).

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{anyhow, bail, Context};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timespec, Timestamps};
use rustix::io::Errno;
use tar::EntryType;

use super::stage::{RootMeta, Stage};
use super::whiteout::{self, Marker, OPAQUE_XATTR, OVERLAY_XATTR_PREFIX};
use super::xattrs::Xattr;
use crate::sys::{self, NodeKind};

/// What the target directory is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Target {
    /// A plain directory tree: whiteouts delete.
    #[default]
    Plain,
    /// An overlay upper/lower dir: whiteouts become overlay's own marks.
    OverlayUpper,
}

/// How to apply a layer.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions {
    pub target: Target,
    /// Accept character and block devices from the layer (refused by
    /// default: a container's /dev is made at run time, never shipped).
    pub allow_devices: bool,
}

impl ApplyOptions {
    /// Into an overlay upper dir, devices refused.
    pub fn overlay_upper() -> ApplyOptions {
        ApplyOptions {
            target: Target::OverlayUpper,
            allow_devices: false,
        }
    }
}

/// What an apply did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyStats {
    pub entries: u64,
    pub files: u64,
    pub bytes: u64,
    pub whiteouts: u64,
    pub opaque_dirs: u64,
    pub hardlinks: u64,
}

/// Apply the layer tar read from `tar` onto `target` (created if missing).
/// On any error the target is left exactly as it was.
pub fn apply(tar: impl Read, target: &Path, opts: &ApplyOptions) -> anyhow::Result<ApplyStats> {
    let run = || -> anyhow::Result<ApplyStats> {
        let stage = Stage::begin(target)?;
        let mut ap = Applier::new(&stage.path, opts)?;
        ap.run(tar)?;
        ap.finish_dirs();
        stage.commit(ap.root_meta)?;
        Ok(ap.stats)
    };
    run().with_context(|| format!("layer not applied to {} (left unchanged)", target.display()))
}

/// Apply the layer tar in the file `tar`.
pub fn apply_file(tar: &Path, target: &Path, opts: &ApplyOptions) -> anyhow::Result<ApplyStats> {
    let f = File::open(tar).with_context(|| format!("cannot open layer {}", tar.display()))?;
    apply(BufReader::with_capacity(1 << 20, f), target, opts)
}

/// One entry's metadata, read from its header and PAX records.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: u64,
    xattrs: Vec<Xattr>,
}

impl Meta {
    fn read<R: Read>(e: &mut tar::Entry<R>) -> anyhow::Result<Meta> {
        let h = e.header();
        let (mode, uid, gid, mtime) = (h.mode()? & 0o7777, h.uid()?, h.gid()?, h.mtime()?);
        let mut xattrs = Vec::new();
        for rec in e.pax_extensions()?.into_iter().flatten() {
            let rec = rec?;
            let Some(name) = rec.key()?.strip_prefix("SCHILY.xattr.") else {
                continue;
            };
            if name.starts_with(OVERLAY_XATTR_PREFIX) {
                bail!("carries overlay's private xattr {name}: only overlay itself may set it");
            }
            xattrs.push((name.to_string(), rec.value_bytes().to_vec()));
        }
        let id = |v: u64, what: &str| {
            u32::try_from(v).map_err(|_| anyhow!("{what} {v} is out of range"))
        };
        Ok(Meta {
            mode,
            uid: id(uid, "uid")?,
            gid: id(gid, "gid")?,
            mtime,
            xattrs,
        })
    }

    fn times(&self) -> Timestamps {
        let t = Timespec {
            tv_sec: self.mtime as i64,
            tv_nsec: 0,
        };
        Timestamps {
            last_access: t,
            last_modification: t,
        }
    }
}

struct Applier<'o> {
    root: Rc<OwnedFd>,
    /// The staging dir, for messages and the journal.
    root_path: PathBuf,
    opts: &'o ApplyOptions,
    /// Paths this layer created: an opaque marker hides everything else.
    written: HashSet<Vec<u8>>,
    /// Directory mtimes, set last (adding a child changes them).
    dir_times: Vec<(Vec<u8>, u64)>,
    /// The directory the last entry went into (entries come sorted).
    cached: Option<(Vec<u8>, Rc<OwnedFd>)>,
    root_meta: Option<RootMeta>,
    chown: bool,
    stats: ApplyStats,
}

fn join(parts: &[&[u8]]) -> Vec<u8> {
    parts.join(&b'/')
}

/// `parent/name` (or `name` at the root), as the `written` set keys paths.
fn child_path(parent: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = parent.to_vec();
    if !p.is_empty() {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

fn errno(e: Errno) -> io::Error {
    e.into()
}

impl<'o> Applier<'o> {
    fn new(root_path: &Path, opts: &'o ApplyOptions) -> anyhow::Result<Self> {
        let root = rustix::fs::open(
            root_path,
            OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno)?;
        Ok(Applier {
            root: Rc::new(root),
            root_path: root_path.to_path_buf(),
            opts,
            written: HashSet::new(),
            dir_times: Vec::new(),
            cached: None,
            root_meta: None,
            chown: nix::unistd::geteuid().is_root(),
            stats: ApplyStats::default(),
        })
    }

    fn run(&mut self, tar: impl Read) -> anyhow::Result<()> {
        let mut archive = tar::Archive::new(tar);
        let mut last = String::from("(start)");
        for entry in archive.entries().context("cannot read the layer tar")? {
            let mut entry = entry.map_err(|e| {
                anyhow!(
                    "malformed layer tar after entry {last:?}: {}",
                    printable(&e.to_string())
                )
            })?;
            let raw = entry.path_bytes().into_owned();
            last = String::from_utf8_lossy(&raw).into_owned();
            self.entry(&mut entry, &raw).map_err(|e| {
                anyhow!(
                    "layer entry {last:?} refused: {}",
                    printable(&format!("{e:#}"))
                )
            })?;
        }
        Ok(())
    }

    fn entry<R: Read>(&mut self, e: &mut tar::Entry<R>, raw: &[u8]) -> anyhow::Result<()> {
        let ty = e.header().entry_type();
        if ty.is_pax_global_extensions() {
            return Ok(());
        }
        let comps = whiteout::components(raw).map_err(anyhow::Error::msg)?;
        let meta = Meta::read(e)?;
        self.stats.entries += 1;
        let Some((name, parents)) = comps.split_last() else {
            return self.root_entry(ty, meta);
        };
        if parents
            .iter()
            .any(|p| whiteout::classify(p) != Ok(Marker::Plain))
        {
            bail!("a whiteout marker cannot be a directory");
        }
        match whiteout::classify(name).map_err(anyhow::Error::msg)? {
            Marker::Opaque => self.opaque(parents),
            Marker::Whiteout(hidden) => self.whiteout(parents, hidden, &meta),
            Marker::Plain => {
                let dir = self
                    .dir(parents, true)?
                    .context("parent directory missing")?;
                self.create(e, ty, &dir, parents, name, meta)?;
                self.written.insert(child_path(&join(parents), name));
                Ok(())
            }
        }
    }

    /// `./` itself: its owner, mode and mtime go on the target at commit.
    fn root_entry(&mut self, ty: EntryType, meta: Meta) -> anyhow::Result<()> {
        if ty != EntryType::Directory {
            bail!("the layer's root must be a directory");
        }
        for (k, v) in &meta.xattrs {
            rustix::fs::fsetxattr(&*self.root, k.as_str(), v, rustix::fs::XattrFlags::empty())
                .map_err(errno)?;
        }
        self.root_meta = Some(RootMeta {
            mode: meta.mode,
            owner: self.chown.then_some((meta.uid, meta.gid)),
            mtime: Some(meta.mtime),
        });
        Ok(())
    }

    /// Open the directory `parents` below the root, one component at a time
    /// with O_NOFOLLOW, creating missing ones (mode 0755) when asked. A
    /// symlink or a file on the way is refused. `None`: it does not exist.
    fn dir(&mut self, parents: &[&[u8]], create: bool) -> anyhow::Result<Option<Rc<OwnedFd>>> {
        let key = join(parents);
        if let Some((k, fd)) = &self.cached {
            if *k == key {
                return Ok(Some(fd.clone()));
            }
        }
        let mut cur = self.root.clone();
        for (i, c) in parents.iter().enumerate() {
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let opened = match rustix::fs::openat(&*cur, *c, flags, Mode::empty()) {
                Err(Errno::NOENT) if create => {
                    rustix::fs::mkdirat(&*cur, *c, Mode::from_raw_mode(0o755)).map_err(errno)?;
                    rustix::fs::openat(&*cur, *c, flags, Mode::empty())
                }
                other => other,
            };
            cur = match opened {
                Ok(fd) => Rc::new(fd),
                Err(Errno::NOENT) => return Ok(None),
                Err(Errno::LOOP) | Err(Errno::NOTDIR) => bail!(
                    "{:?} is a symlink or not a directory: a layer may not write through it",
                    String::from_utf8_lossy(&join(&parents[..=i]))
                ),
                Err(e) => return Err(errno(e).into()),
            };
        }
        self.cached = Some((key, cur.clone()));
        Ok(Some(cur))
    }

    /// Shown in the journal: where `parents` is inside the staging dir.
    fn shown(&self, parents: &[&[u8]]) -> PathBuf {
        self.root_path.join(OsStr::from_bytes(&join(parents)))
    }

    /// `.wh..wh..opq`: hide what the lower layers have in this directory.
    fn opaque(&mut self, parents: &[&[u8]]) -> anyhow::Result<()> {
        self.stats.opaque_dirs += 1;
        if self.opts.target == Target::OverlayUpper {
            let dir = self.dir(parents, true)?.context("directory missing")?;
            let why =
                "mark the directory opaque: overlay will not look for its name in lower layers";
            sys::xattr_fs::fsetxattr(&*dir, &self.shown(parents), OPAQUE_XATTR, b"y", why)?;
            return Ok(());
        }
        match self.dir(parents, false)? {
            Some(dir) => self.hide_lower(&dir, join(parents)),
            None => Ok(()),
        }
    }

    /// Remove every child of `dir` this layer did not write, and look
    /// inside the directories it did (their lower content is hidden too).
    fn hide_lower(&mut self, dir: &OwnedFd, rel: Vec<u8>) -> anyhow::Result<()> {
        for name in children(dir)? {
            let path = child_path(&rel, &name);
            if !self.written.contains(&path) {
                self.remove(dir, &name)?;
                continue;
            }
            self.hide_lower_below(dir, &name, path)?;
        }
        Ok(())
    }

    /// [`Self::hide_lower`] inside `dir/name` when that is a directory
    /// this layer wrote; nothing for a file (it is the layer's own).
    fn hide_lower_below(
        &mut self,
        dir: &OwnedFd,
        name: &[u8],
        path: Vec<u8>,
    ) -> anyhow::Result<()> {
        let st = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(errno)?;
        if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
            return Ok(());
        }
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let sub = rustix::fs::openat(dir, name, flags, Mode::empty()).map_err(errno)?;
        self.hide_lower(&sub, path)
    }

    /// `.wh.NAME`: delete NAME, or in an overlay upper dir put overlay's
    /// whiteout there. A whiteout hides what the layers *below* have: an
    /// entry this layer wrote itself stays (the OCI image spec's rule), and
    /// of a directory it wrote only the lower children go.
    fn whiteout(&mut self, parents: &[&[u8]], hidden: &[u8], meta: &Meta) -> anyhow::Result<()> {
        self.stats.whiteouts += 1;
        let upper = self.opts.target == Target::OverlayUpper;
        let path = child_path(&join(parents), hidden);
        if self.written.contains(&path) {
            return match self.dir(parents, false)? {
                Some(dir) if !upper => self.hide_lower_below(&dir, hidden, path),
                _ => Ok(()),
            };
        }
        let Some(dir) = self.dir(parents, upper)? else {
            return Ok(());
        };
        self.remove(&dir, hidden)?;
        if upper {
            let why = "a character device 0/0 is overlay's whiteout: it hides this name in every lower layer";
            let name = OsStr::from_bytes(hidden);
            sys::xattr_fs::mknodat(
                &*dir,
                &self.shown(parents),
                name,
                NodeKind::Char,
                meta.mode,
                (0, 0),
                why,
            )?;
            self.meta_at(&dir, hidden, meta, false)?;
        }
        Ok(())
    }

    /// Remove `name` from `dir`, a directory with all it holds.
    fn remove(&mut self, dir: &OwnedFd, name: &[u8]) -> anyhow::Result<()> {
        let st = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Err(Errno::NOENT) => return Ok(()),
            other => other.map_err(errno)?,
        };
        if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
            return Ok(rustix::fs::unlinkat(dir, name, AtFlags::empty()).map_err(errno)?);
        }
        // The cached fd may be this directory or below it.
        self.cached = None;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let sub = rustix::fs::openat(dir, name, flags, Mode::empty()).map_err(errno)?;
        for child in children(&sub)? {
            self.remove(&sub, &child)?;
        }
        Ok(rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR).map_err(errno)?)
    }

    /// An ordinary entry: directory, file, link, device or pipe.
    fn create<R: Read>(
        &mut self,
        e: &mut tar::Entry<R>,
        ty: EntryType,
        dir: &OwnedFd,
        parents: &[&[u8]],
        name: &[u8],
        meta: Meta,
    ) -> anyhow::Result<()> {
        match ty {
            EntryType::Directory => self.mkdir(dir, parents, name, meta),
            EntryType::Regular | EntryType::Continuous => self.file(e, dir, name, meta),
            EntryType::Symlink => {
                let target = e.link_name_bytes().context("symlink without a target")?;
                self.remove(dir, name)?;
                rustix::fs::symlinkat(OsStr::from_bytes(&target), dir, name).map_err(errno)?;
                self.meta_at(dir, name, &meta, true)
            }
            EntryType::Link => self.hardlink(e, dir, name),
            EntryType::Char | EntryType::Block => self.device(e, ty, dir, parents, name, meta),
            EntryType::Fifo => {
                self.remove(dir, name)?;
                let why = "a named pipe the layer carries";
                let shown = self.shown(parents);
                sys::xattr_fs::mknodat(
                    dir,
                    &shown,
                    OsStr::from_bytes(name),
                    NodeKind::Fifo,
                    meta.mode,
                    (0, 0),
                    why,
                )?;
                self.meta_at(dir, name, &meta, false)
            }
            other => bail!("unsupported tar entry type {other:?}"),
        }
    }

    fn mkdir(
        &mut self,
        dir: &OwnedFd,
        parents: &[&[u8]],
        name: &[u8],
        meta: Meta,
    ) -> anyhow::Result<()> {
        match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {}
            Ok(_) => {
                self.remove(dir, name)?;
                rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o700)).map_err(errno)?;
            }
            Err(Errno::NOENT) => {
                rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o700)).map_err(errno)?
            }
            Err(e) => return Err(errno(e).into()),
        }
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(dir, name, flags, Mode::empty()).map_err(errno)?;
        self.meta_fd(&fd, &meta)?;
        self.dir_times
            .push((child_path(&join(parents), name), meta.mtime));
        Ok(())
    }

    fn file<R: Read>(
        &mut self,
        e: &mut tar::Entry<R>,
        dir: &OwnedFd,
        name: &[u8],
        meta: Meta,
    ) -> anyhow::Result<()> {
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let create = || rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(0o600));
        // Most entries are new: try first, replace only what is in the way.
        let fd = match create() {
            Err(Errno::EXIST) => {
                self.remove(dir, name)?;
                create().map_err(errno)?
            }
            other => other.map_err(errno)?,
        };
        let mut f = File::from(fd);
        let size = e.size();
        let copied = io::copy(e, &mut f)?;
        if copied != size {
            bail!("truncated: {copied} of {size} bytes");
        }
        self.meta_fd(&f, &meta)?;
        rustix::fs::futimens(&f, &meta.times()).map_err(errno)?;
        self.stats.files += 1;
        self.stats.bytes += size;
        Ok(())
    }

    /// A hard link: its target must be a path inside, already applied.
    fn hardlink<R: Read>(
        &mut self,
        e: &mut tar::Entry<R>,
        dir: &OwnedFd,
        name: &[u8],
    ) -> anyhow::Result<()> {
        let link = e
            .link_name_bytes()
            .context("hard link without a target")?
            .into_owned();
        let shown = String::from_utf8_lossy(&link);
        let comps =
            whiteout::components(&link).map_err(|r| anyhow!("hard link to {shown:?}: {r}"))?;
        let Some((lname, lparents)) = comps.split_last() else {
            bail!("hard link to the root")
        };
        let src = self.dir(lparents, false)?.with_context(|| {
            format!("hard link to {shown:?}, which is not in this layer or below it")
        })?;
        self.remove(dir, name)?;
        rustix::fs::linkat(&*src, *lname, dir, name, AtFlags::empty())
            .map_err(|e| anyhow!("hard link to {shown:?}: {}", errno(e)))?;
        self.stats.hardlinks += 1;
        Ok(())
    }

    fn device<R: Read>(
        &mut self,
        e: &mut tar::Entry<R>,
        ty: EntryType,
        dir: &OwnedFd,
        parents: &[&[u8]],
        name: &[u8],
        meta: Meta,
    ) -> anyhow::Result<()> {
        let h = e.header();
        let dev = (
            h.device_major()?.unwrap_or(0),
            h.device_minor()?.unwrap_or(0),
        );
        let kind = if ty == EntryType::Char {
            NodeKind::Char
        } else {
            NodeKind::Block
        };
        if !self.opts.allow_devices {
            bail!(
                "device node ({kind:?} {}/{}) not allowed: a layer brings no devices (a container's /dev is made when it starts)",
                dev.0,
                dev.1
            );
        }
        self.remove(dir, name)?;
        let why = "a device node the layer carries (devices were allowed for this apply)";
        let shown = self.shown(parents);
        sys::xattr_fs::mknodat(
            dir,
            &shown,
            OsStr::from_bytes(name),
            kind,
            meta.mode,
            dev,
            why,
        )?;
        self.meta_at(dir, name, &meta, false)
    }

    /// Owner, then mode (chown clears setuid bits), then xattrs (chown
    /// drops security.capability) of an open file or directory.
    fn meta_fd(&self, fd: &impl AsFd, meta: &Meta) -> anyhow::Result<()> {
        if self.chown {
            let (u, g) = (
                rustix::fs::Uid::from_raw(meta.uid),
                rustix::fs::Gid::from_raw(meta.gid),
            );
            rustix::fs::fchown(fd, Some(u), Some(g)).map_err(errno)?;
        }
        rustix::fs::fchmod(fd, Mode::from_raw_mode(meta.mode)).map_err(errno)?;
        for (k, v) in &meta.xattrs {
            rustix::fs::fsetxattr(fd, k.as_str(), v, rustix::fs::XattrFlags::empty())
                .map_err(|e| anyhow!("xattr {k}: {}", errno(e)))?;
        }
        Ok(())
    }

    /// The same for a node we cannot open (a symlink, device or pipe),
    /// addressed by name in its directory without following it.
    fn meta_at(
        &self,
        dir: &OwnedFd,
        name: &[u8],
        meta: &Meta,
        symlink: bool,
    ) -> anyhow::Result<()> {
        if self.chown {
            let (u, g) = (
                rustix::fs::Uid::from_raw(meta.uid),
                rustix::fs::Gid::from_raw(meta.gid),
            );
            rustix::fs::chownat(dir, name, Some(u), Some(g), AtFlags::SYMLINK_NOFOLLOW)
                .map_err(errno)?;
        }
        if !symlink {
            // We just made this node in our private staging dir: no one
            // could have swapped it for a symlink.
            rustix::fs::chmodat(dir, name, Mode::from_raw_mode(meta.mode), AtFlags::empty())
                .map_err(errno)?;
        }
        if !meta.xattrs.is_empty() {
            // The directory by its fd, the node by name, not followed.
            use std::os::fd::AsRawFd;
            let mut p = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
            p.extend_from_slice(name);
            for (k, v) in &meta.xattrs {
                rustix::fs::lsetxattr(
                    OsStr::from_bytes(&p),
                    k.as_str(),
                    v,
                    rustix::fs::XattrFlags::empty(),
                )
                .map_err(|e| anyhow!("xattr {k}: {}", errno(e)))?;
            }
        }
        rustix::fs::utimensat(dir, name, &meta.times(), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(errno)?;
        Ok(())
    }

    /// Directory mtimes, now that nothing more is added below them. A
    /// directory a later entry removed or replaced has none to restore.
    fn finish_dirs(&mut self) {
        for (rel, mtime) in std::mem::take(&mut self.dir_times) {
            let comps: Vec<&[u8]> = rel.split(|&b| b == b'/').collect();
            let Some((name, parents)) = comps.split_last() else {
                continue;
            };
            if let Ok(Some(dir)) = self.dir(parents, false) {
                let t = Timespec {
                    tv_sec: mtime as i64,
                    tv_nsec: 0,
                };
                let times = Timestamps {
                    last_access: t,
                    last_modification: t,
                };
                let _ = rustix::fs::utimensat(&*dir, *name, &times, AtFlags::SYMLINK_NOFOLLOW);
            }
        }
    }
}

/// An error text made safe for one terminal line: the tar crate quotes
/// raw header bytes, which may hold anything.
fn printable(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    match clean.char_indices().nth(200) {
        Some((cut, _)) => format!("{}...", &clean[..cut]),
        None => clean,
    }
}

/// The names in a directory, without `.` and `..`.
fn children(dir: &OwnedFd) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir).map_err(errno)? {
        let entry = entry.map_err(errno)?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            out.push(name.to_vec());
        }
    }
    Ok(out)
}
