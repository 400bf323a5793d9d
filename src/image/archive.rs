//! An image archive as `wharf load` reads it: a directory, or a tar (a
//! file, or stdin spooled to the store's tmp/ first since a tar has no
//! index and the parts we need may come in any order). A compressed tar
//! is decompressed while it is spooled.
//!
//! Paths inside come from the archive's own JSON (manifest.json, blob
//! names) and are untrusted: an absolute path or a `..` is refused, and a
//! symlink in the archive is followed only while it stays inside.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::compress::Compression;

pub enum Archive {
    Dir(PathBuf),
    Tar {
        file: File,
        entries: HashMap<String, Entry>,
    },
}

/// Where one tar member is.
#[derive(Debug, Clone)]
pub enum Entry {
    File {
        offset: u64,
        size: u64,
    },
    /// A symlink (target relative to its directory) or a hard link
    /// (target relative to the archive's root).
    Link {
        target: String,
        hard: bool,
    },
}

impl Archive {
    /// Open `input` (`-` for stdin); `spool` is where a stream is kept.
    pub fn open(input: &Path, spool: &Path) -> anyhow::Result<Archive> {
        if input == Path::new("-") {
            return Self::spooled(io::stdin().lock(), spool);
        }
        if input.is_dir() {
            return Ok(Archive::Dir(input.to_path_buf()));
        }
        let mut f = BufReader::new(
            File::open(input).with_context(|| format!("cannot open {}", input.display()))?,
        );
        if Compression::sniff(&mut f)? != Compression::None {
            return Self::spooled(f, spool);
        }
        // The sniff read ahead: offsets are counted from the start.
        let mut file = f.into_inner();
        file.seek(io::SeekFrom::Start(0))?;
        Self::tar(file)
    }

    fn spooled(r: impl Read, spool: &Path) -> anyhow::Result<Archive> {
        let mut r = BufReader::with_capacity(1 << 20, r);
        let c = Compression::sniff(&mut r)?;
        let mut out = File::create(spool)?;
        io::copy(&mut c.decoder(r)?, &mut out).context("cannot read the archive")?;
        Self::tar(File::open(spool)?)
    }

    fn tar(file: File) -> anyhow::Result<Archive> {
        let mut entries = HashMap::new();
        let mut ar = tar::Archive::new(&file);
        for e in ar.entries().context("not a tar archive")? {
            let e = e.context("the archive is not a valid tar")?;
            let Ok(name) = clean(&String::from_utf8_lossy(&e.path_bytes())) else {
                continue; // never looked up: nothing can name it
            };
            let ty = e.header().entry_type();
            let entry = if ty.is_symlink() || ty.is_hard_link() {
                let target = e.link_name_bytes().context("link without a target")?;
                Entry::Link {
                    target: String::from_utf8_lossy(&target).into_owned(),
                    hard: ty.is_hard_link(),
                }
            } else if ty.is_file() {
                Entry::File {
                    offset: e.raw_file_position(),
                    size: e.size(),
                }
            } else {
                continue;
            };
            entries.insert(name, entry);
        }
        Ok(Archive::Tar { file, entries })
    }

    pub fn exists(&self, path: &str) -> bool {
        self.locate(path).is_ok()
    }

    /// A reader of the member at `path` (as the archive's JSON names it).
    pub fn open_member(&self, path: &str) -> anyhow::Result<Box<dyn Read + '_>> {
        match (self, self.locate(path)?) {
            (Archive::Dir(_), Located::Path(p)) => Ok(Box::new(
                File::open(&p).with_context(|| format!("cannot open {}", p.display()))?,
            )),
            (Archive::Tar { file, .. }, Located::Range(offset, size)) => Ok(Box::new(At {
                file,
                pos: offset,
                end: offset + size,
            })),
            _ => unreachable!("a located member matches its archive kind"),
        }
    }

    pub fn read_small(&self, path: &str) -> anyhow::Result<Vec<u8>> {
        super::digest::read_small(self.open_member(path)?, path)
    }

    fn locate(&self, path: &str) -> anyhow::Result<Located> {
        let name = clean(path)?;
        match self {
            Archive::Dir(root) => locate_in_dir(root, &name),
            Archive::Tar { entries, .. } => locate_in_tar(entries, &name, path),
        }
    }
}

enum Located {
    Path(PathBuf),
    Range(u64, u64),
}

fn locate_in_dir(root: &Path, name: &str) -> anyhow::Result<Located> {
    let p = root.join(name);
    let real = p
        .canonicalize()
        .with_context(|| format!("{name:?} is not in the archive"))?;
    if !real.starts_with(root.canonicalize()?) {
        bail!(
            "{name:?} points outside the archive (a symlink to {})",
            real.display()
        );
    }
    Ok(Located::Path(real))
}

fn locate_in_tar(
    entries: &HashMap<String, Entry>,
    name: &str,
    asked: &str,
) -> anyhow::Result<Located> {
    let mut name = name.to_string();
    // Links may chain; a loop or a long chain is refused.
    for _ in 0..16 {
        match entries.get(&name) {
            None => bail!("{asked:?} is not in the archive"),
            Some(Entry::File { offset, size }) => return Ok(Located::Range(*offset, *size)),
            Some(Entry::Link { target, hard }) => {
                let base = match (*hard, name.rfind('/')) {
                    (false, Some(i)) => format!("{}/", &name[..i]),
                    _ => String::new(),
                };
                name = clean(&format!("{base}{target}")).with_context(|| {
                    format!("{asked:?} is a link that points outside the archive")
                })?;
            }
        }
    }
    bail!("{asked:?} is a loop of links")
}

/// A member name as a plain relative path: `./a//b` is `a/b`; an absolute
/// path or one that climbs out with `..` is refused.
pub fn clean(path: &str) -> anyhow::Result<String> {
    if path.starts_with('/') {
        bail!("{path:?} points outside the archive (absolute path)");
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    bail!("{path:?} points outside the archive");
                }
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        bail!("{path:?} names no file");
    }
    Ok(parts.join("/"))
}

/// A window on a file, read with pread so members can be read in any order.
struct At<'f> {
    file: &'f File,
    pos: u64,
    end: u64,
}

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = (self.end - self.pos).min(buf.len() as u64) as usize;
        if left == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..left], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the archive ends inside a member",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_refuses_escapes() {
        assert_eq!(clean("./a//b").unwrap(), "a/b");
        assert_eq!(clean("a/../b").unwrap(), "b");
        assert!(clean("../x").is_err());
        assert!(clean("a/../../x").is_err());
        assert!(clean("/etc/passwd").is_err());
        assert!(clean(".").is_err());
    }

    #[test]
    fn tar_members_and_links_are_found_and_bounded() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_cksum();
        b.append_data(&mut h, "dir/file", &b"hello"[..]).unwrap();
        for (name, target) in [("dir/ok", "file"), ("dir/out", "../../etc/passwd")] {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, name, target).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.tar");
        std::fs::write(&p, b.into_inner().unwrap()).unwrap();
        let ar = Archive::open(&p, &dir.path().join("spool")).unwrap();

        let mut s = String::new();
        ar.open_member("./dir/ok")
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "hello");
        let err = ar.open_member("dir/out").err().unwrap().to_string();
        assert!(err.contains("outside"), "{err}");
        assert!(!ar.exists("nope"));
    }
}
