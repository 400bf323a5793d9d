//! Reading a file's extended attributes (without following symlinks).
//! Plain file I/O: reading changes nothing, so it is not journaled.

use std::ffi::OsStr;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::io::Errno;

/// One extended attribute: (name, value).
pub type Xattr = (String, Vec<u8>);

/// One extended attribute with its name as the kernel keeps it: any bytes
/// but NUL, not necessarily UTF-8.
pub type RawXattr = (Vec<u8>, Vec<u8>);

/// Every xattr of `path`, sorted by name. A filesystem without xattr
/// support has none. A name that is not UTF-8 is left out: it cannot be a
/// `String`, and a lossy spelling would name a different attribute (use
/// [`read_all_fd`] to copy such names exactly).
pub fn read_all(path: &Path) -> io::Result<Vec<Xattr>> {
    let raw = read_all_with(
        || rustix::fs::llistxattr_query(path),
        |buf| rustix::fs::llistxattr(path, buf),
        |name| rustix::fs::lgetxattr_query(path, name),
        |name, buf| rustix::fs::lgetxattr(path, name, buf),
    )?;
    Ok(raw
        .into_iter()
        .filter_map(|(name, value)| String::from_utf8(name).ok().map(|n| (n, value)))
        .collect())
}

/// Every xattr of the open file or directory `fd`, names as raw bytes,
/// sorted by name.
pub fn read_all_fd(fd: impl AsFd) -> io::Result<Vec<RawXattr>> {
    let fd = fd.as_fd();
    read_all_with(
        || rustix::fs::flistxattr_query(fd),
        |buf| rustix::fs::flistxattr(fd, buf),
        |name| rustix::fs::fgetxattr_query(fd, name),
        |name, buf| rustix::fs::fgetxattr(fd, name, buf),
    )
}

/// The list-then-get dance, for a path or an fd.
fn read_all_with(
    list_size: impl Fn() -> Result<usize, Errno>,
    list: impl Fn(&mut [u8]) -> Result<usize, Errno>,
    get_size: impl Fn(&OsStr) -> Result<usize, Errno>,
    get: impl Fn(&OsStr, &mut [u8]) -> Result<usize, Errno>,
) -> io::Result<Vec<RawXattr>> {
    let names = match sized(list_size, list) {
        Ok(n) => n,
        Err(Errno::OPNOTSUPP) => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    for name in names.split(|&b| b == 0).filter(|s| !s.is_empty()) {
        let os = OsStr::from_bytes(name);
        match sized(|| get_size(os), |buf| get(os, buf)) {
            Ok(v) => out.push((name.to_vec(), v)),
            // Removed between listing and reading, or hidden from us.
            Err(Errno::NODATA) => {}
            Err(e) => return Err(e.into()),
        }
    }
    out.sort();
    Ok(out)
}

/// Ask for the size, then read; ask again if it grew in between.
fn sized(
    size: impl Fn() -> Result<usize, Errno>,
    read: impl Fn(&mut [u8]) -> Result<usize, Errno>,
) -> Result<Vec<u8>, Errno> {
    loop {
        let mut buf = vec![0u8; size()?];
        match read(&mut buf[..]) {
            Err(Errno::RANGE) => continue,
            Err(e) => return Err(e),
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
        }
    }
}
