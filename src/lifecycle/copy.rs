//! `wharf cp`: files into and out of a container's root, as tar streams,
//! without ever leaving that root. The root is the container's: it may
//! hold any symlink (`/etc/evil -> /root`, `x -> ../../..`), and a copy
//! that followed one with the host's `/` would read or write the host's
//! files (the docker cp CVE-2018-15664 class). So every path inside the
//! container is opened with openat2(2) RESOLVE_IN_ROOT ([`super::inroot`]):
//! the kernel walks it with the container's root as `/`, for every
//! component, at the moment of the open — no check-then-use window.
//! The last component is opened with O_NOFOLLOW: a symlink is copied as a
//! symlink, never through.
//!
//! Both directions name the copy the Docker way: copying SRC to an
//! existing directory puts `basename(SRC)` inside it; to any other path
//! makes that path (its parent must exist).

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use tar::{Builder, EntryType, Header};

use super::inroot;

/// Where a copy lands: the directory to fill, and the name its top entry
/// takes there (`None`: keep the source's own name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landing {
    pub dir: PathBuf,
    pub rename: Option<PathBuf>,
}

impl Landing {
    /// Docker's rule, given whether `dest` is an existing directory.
    pub fn of(dest: &Path, is_dir: bool) -> Landing {
        match (is_dir, dest.parent(), dest.file_name()) {
            (false, Some(parent), Some(name)) => Landing {
                dir: if parent.as_os_str().is_empty() {
                    ".".into()
                } else {
                    parent.to_path_buf()
                },
                rename: Some(name.into()),
            },
            _ => Landing {
                dir: dest.to_path_buf(),
                rename: None,
            },
        }
    }

    /// The entry `name` of the stream, renamed: its first component
    /// becomes [`Landing::rename`]. `..` and absolute names are refused.
    pub fn place(&self, name: &Path) -> anyhow::Result<PathBuf> {
        let mut parts = Vec::new();
        for c in name.components() {
            match c {
                Component::Normal(p) => parts.push(p),
                Component::CurDir => {}
                _ => bail!("refusing the tar entry {}: it climbs out", name.display()),
            }
        }
        let mut out = PathBuf::new();
        for (i, p) in parts.iter().enumerate() {
            match (&self.rename, i) {
                (Some(r), 0) => out.push(r),
                _ => out.push(p),
            }
        }
        Ok(out)
    }
}

/// Write `src` of the container root `root` (a path as the container
/// sees it) to `out` as a tar whose top entry is `basename(src)`.
pub fn tar_out(root: &Path, src: &str, out: impl Write) -> anyhow::Result<()> {
    let top = Path::new(src)
        .file_name()
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    let mut tar = Builder::new(out);
    add(
        &mut tar,
        root,
        Path::new("/").join(src.trim_start_matches('/')),
        &top,
    )
    .with_context(|| format!("copying {src} out of the container"))?;
    tar.into_inner()?.flush()?;
    Ok(())
}

fn add(tar: &mut Builder<impl Write>, root: &Path, at: PathBuf, name: &Path) -> anyhow::Result<()> {
    let text = at.to_string_lossy();
    let fd = inroot::open_with(root, &text, OFlags::PATH | OFlags::NOFOLLOW)?;
    let st = rustix::fs::fstat(&fd)?;
    let mut h = Header::new_gnu();
    h.set_mode(st.st_mode & 0o7777);
    h.set_uid(st.st_uid.into());
    h.set_gid(st.st_gid.into());
    h.set_mtime(st.st_mtime.max(0) as u64);
    h.set_size(0);
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {
            h.set_entry_type(EntryType::Directory);
            tar.append_data(&mut h, name, std::io::empty())?;
            let dir = inroot::open_with(root, &text, OFlags::DIRECTORY | OFlags::NOFOLLOW)?;
            let mut names: Vec<Vec<u8>> = rustix::fs::Dir::read_from(&dir)?
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_bytes().to_vec())
                .filter(|n| n != b"." && n != b"..")
                .collect();
            names.sort();
            for n in names {
                let n = OsStr::from_bytes(&n);
                add(tar, root, at.join(n), &name.join(n))?;
            }
        }
        FileType::RegularFile => {
            let f = File::from(inroot::open_with(root, &text, OFlags::NOFOLLOW)?);
            h.set_entry_type(EntryType::Regular);
            h.set_size(f.metadata()?.len());
            tar.append_data(&mut h, name, f)?;
        }
        FileType::Symlink => {
            let target = rustix::fs::readlinkat(&fd, "", Vec::new())?;
            h.set_entry_type(EntryType::Symlink);
            tar.append_link(&mut h, name, OsStr::from_bytes(target.as_bytes()))?;
        }
        // Devices, pipes and sockets belong to the container's kernel view.
        _ => {}
    }
    Ok(())
}

/// Unpack the tar `input` into the container root `root` at `dest` (a
/// path as the container sees it), by Docker's rule of [`Landing`].
pub fn tar_in(root: &Path, dest: &str, input: impl Read) -> anyhow::Result<()> {
    let dest_is_dir = inroot::open_with(root, dest, OFlags::DIRECTORY).is_ok();
    let landing = Landing::of(Path::new(dest), dest_is_dir);
    let mut ar = tar::Archive::new(input);
    for entry in ar.entries()? {
        let mut e = entry?;
        let rel = landing.place(&e.path()?)?;
        let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
            continue; // the top `.` itself
        };
        let parent = landing.dir.join(parent);
        let dir = inroot::open_with(root, &parent.to_string_lossy(), OFlags::DIRECTORY)
            .with_context(|| format!("{} is not a directory in the container", parent.display()))?;
        let mode = Mode::from_raw_mode(e.header().mode()? & 0o7777);
        match e.header().entry_type() {
            EntryType::Directory => match rustix::fs::mkdirat(&dir, name, mode) {
                Err(rustix::io::Errno::EXIST) => {}
                other => other?,
            },
            EntryType::Regular => {
                replace(&dir, name);
                let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW;
                let mut f = File::from(rustix::fs::openat(
                    &dir,
                    name,
                    flags | OFlags::CLOEXEC,
                    mode,
                )?);
                std::io::copy(&mut e, &mut f)?;
            }
            EntryType::Symlink => {
                let target = e.link_name()?.context("a symlink without a target")?;
                replace(&dir, name);
                rustix::fs::symlinkat(target.as_os_str(), &dir, name)?;
            }
            other => bail!(
                "cannot copy {}: tar entries of type {other:?} are not supported",
                rel.display()
            ),
        }
    }
    Ok(())
}

/// Make room for a new file: a file or symlink already there goes (a
/// symlink is removed, never written through).
fn replace(dir: &impl rustix::fd::AsFd, name: &OsStr) {
    let _ = rustix::fs::unlinkat(dir, name, AtFlags::empty());
}

/// A host path as a tar with top entry `basename(src)` (the host's files
/// are the user's own: plain std walking, symlinks kept as symlinks).
pub fn tar_host(src: &Path, out: impl Write) -> anyhow::Result<()> {
    let name = src
        .file_name()
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    let mut tar = Builder::new(out);
    tar.follow_symlinks(false);
    let meta =
        std::fs::symlink_metadata(src).with_context(|| format!("cannot copy {}", src.display()))?;
    if meta.is_dir() {
        tar.append_dir_all(&name, src)?;
    } else {
        tar.append_path_with_name(src, &name)?;
    }
    tar.into_inner()?.flush()?;
    Ok(())
}

/// Unpack the tar `input` onto the host at `dest`, by Docker's rule.
/// [`Landing::place`] refuses `..` and absolute names, and no entry is
/// written below a symlink an earlier entry made.
pub fn untar_host(dest: &Path, input: impl Read) -> anyhow::Result<()> {
    let landing = Landing::of(dest, dest.is_dir());
    let mut ar = tar::Archive::new(input);
    for entry in ar.entries()? {
        let mut e = entry?;
        let rel = landing.place(&e.path()?)?;
        if rel.as_os_str().is_empty() {
            continue;
        }
        let target = landing.dir.join(&rel);
        no_symlink_below(&landing.dir, &rel)?;
        if e.header().entry_type() != EntryType::Directory {
            let _ = std::fs::remove_file(&target);
        }
        e.unpack(&target)
            .with_context(|| format!("writing {}", target.display()))?;
    }
    Ok(())
}

/// Run a writer of a tar stream and its reader at once, joined by a
/// pipe (a copy is never held in memory whole). When the reader fails
/// first, the writer's broken pipe is only its echo: the reader's error
/// is the answer.
pub fn piped(
    write: impl FnOnce(File) -> anyhow::Result<()> + Send,
    read: impl FnOnce(File) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let (r, w) = nix::unistd::pipe()?;
    let (wrote, read) = std::thread::scope(|s| {
        let writer = s.spawn(move || write(File::from(w)));
        let read = read(File::from(r));
        (writer.join(), read)
    });
    let wrote = wrote.map_err(|_| anyhow::anyhow!("the tar writer panicked"))?;
    read?;
    wrote
}

/// Refuse `rel` under `base` when a directory on the way is a symlink.
fn no_symlink_below(base: &Path, rel: &Path) -> anyhow::Result<()> {
    let mut at = base.to_path_buf();
    for c in rel.parent().into_iter().flat_map(Path::components) {
        at.push(c);
        if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            bail!("refusing to write below the symlink {}", at.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn landing_follows_dockers_rule() {
        let into = Landing::of(Path::new("/tmp"), true);
        assert_eq!(
            into.place(Path::new("etc/hosts")).unwrap(),
            Path::new("etc/hosts")
        );
        let named = Landing::of(Path::new("/tmp/out"), false);
        assert_eq!(named.dir, Path::new("/tmp"));
        assert_eq!(
            named.place(Path::new("etc/hosts")).unwrap(),
            Path::new("out/hosts")
        );
        assert!(into.place(Path::new("../x")).is_err());
        assert!(into.place(Path::new("/abs")).is_err());
    }
}
