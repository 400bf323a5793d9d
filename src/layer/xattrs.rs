//! Reading a file's extended attributes (without following symlinks).
//! Plain file I/O: reading changes nothing, so it is not journaled.

use std::io;
use std::path::Path;

use rustix::io::Errno;

/// One extended attribute: (name, value).
pub type Xattr = (String, Vec<u8>);

/// Every xattr of `path`, sorted by name. A filesystem without xattr
/// support has none.
pub fn read_all(path: &Path) -> io::Result<Vec<Xattr>> {
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

fn list_names(path: &Path) -> Result<Vec<String>, Errno> {
    loop {
        let size = rustix::fs::llistxattr_query(path)?;
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
        let size = rustix::fs::lgetxattr_query(path, name)?;
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
