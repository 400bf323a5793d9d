//! Reading a file's extended attributes (without following symlinks).
//! Plain file I/O: reading changes nothing, so it is not journaled.

use std::io;
use std::path::Path;

use rustix::io::Errno;

/// Every xattr of `path` as (name, value), sorted by name. A filesystem
/// without xattr support has none.
pub fn read_all(path: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let names = match list_names(path) {
        Ok(n) => n,
        Err(Errno::OPNOTSUPP) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        match get(path, &name) {
            Ok(v) => out.push((name, v)),
            // Removed between listing and reading, or hidden from us.
            Err(Errno::NODATA) => {}
            Err(e) => return Err(e.into()),
        }
    }
    out.sort();
    Ok(out)
}

/// One xattr's value, or `None` when the file does not have it.
pub fn read_one(path: &Path, name: &str) -> io::Result<Option<Vec<u8>>> {
    match get(path, name) {
        Ok(v) => Ok(Some(v)),
        Err(Errno::NODATA) | Err(Errno::OPNOTSUPP) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn list_names(path: &Path) -> Result<Vec<String>, Errno> {
    loop {
        let size = rustix::fs::llistxattr(path, &mut [][..])?;
        let mut buf = vec![0u8; size];
        match rustix::fs::llistxattr(path, &mut buf[..]) {
            // The list grew between the two calls: ask again.
            Err(Errno::RANGE) => continue,
            Err(e) => return Err(e),
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf
                    .split(|&b| b == 0)
                    .filter(|s| !s.is_empty())
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect());
            }
        }
    }
}

fn get(path: &Path, name: &str) -> Result<Vec<u8>, Errno> {
    loop {
        let size = rustix::fs::lgetxattr(path, name, &mut [][..])?;
        let mut buf = vec![0u8; size];
        match rustix::fs::lgetxattr(path, name, &mut buf[..]) {
            Err(Errno::RANGE) => continue,
            Err(e) => return Err(e),
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
        }
    }
}
