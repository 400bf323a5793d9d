//! Listing a layer tar the way `tar tv` does, with whiteouts explained.

use std::io::Read;

use tar::EntryType;

use super::whiteout::{self, Marker};

/// One entry of a layer tar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub kind: EntryType,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    pub path: String,
    pub link: Option<String>,
    /// xattr names carried in PAX records.
    pub xattrs: Vec<String>,
}

/// Read every entry header of a layer tar (content is skipped).
pub fn list(tar: impl Read) -> anyhow::Result<Vec<Listed>> {
    let mut archive = tar::Archive::new(tar);
    let mut out = Vec::new();
    for entry in archive.entries()? {
        let mut e = entry?;
        let mut xattrs = Vec::new();
        for rec in e.pax_extensions()?.into_iter().flatten() {
            if let Some(name) = rec?.key()?.strip_prefix("SCHILY.xattr.") {
                xattrs.push(name.to_string());
            }
        }
        let h = e.header();
        out.push(Listed {
            kind: h.entry_type(),
            mode: h.mode()?,
            uid: h.uid()?,
            gid: h.gid()?,
            size: e.size(),
            path: String::from_utf8_lossy(&e.path_bytes()).into_owned(),
            link: e
                .link_name_bytes()
                .map(|l| String::from_utf8_lossy(&l).into_owned()),
            xattrs,
        });
    }
    Ok(out)
}

impl std::fmt::Display for Listed {
    /// `h 0644 0/0        0 usr/doc/b -> usr/doc/a  (hard link)`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = match self.kind {
            EntryType::Directory => 'd',
            EntryType::Symlink => 'l',
            EntryType::Link => 'h',
            EntryType::Char => 'c',
            EntryType::Block => 'b',
            EntryType::Fifo => 'p',
            _ => '-',
        };
        write!(
            f,
            "{t} {:04o} {:>4}/{:<4} {:>8} {}",
            self.mode & 0o7777,
            self.uid,
            self.gid,
            self.size,
            self.path
        )?;
        if let Some(l) = &self.link {
            write!(f, " -> {l}")?;
        }
        let name = self
            .path
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("");
        match whiteout::classify(name.as_bytes()) {
            Ok(Marker::Whiteout(hidden)) => write!(
                f,
                "  (whiteout: deletes {})",
                String::from_utf8_lossy(hidden)
            )?,
            Ok(Marker::Opaque) => {
                write!(f, "  (opaque marker: hides this directory's lower content)")?
            }
            _ => {}
        }
        if !self.xattrs.is_empty() {
            write!(f, "  xattrs: {}", self.xattrs.join(", "))?;
        }
        Ok(())
    }
}
