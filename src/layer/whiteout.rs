//! Whiteouts: how a layer says "this file of a lower layer is gone".
//!
//! A layer can only add files, so deleting one is written down as a marker
//! that hides it. There are two spellings of the same idea:
//!
//! - overlayfs, in its upper dir: a *character device with device number
//!   0/0* named like the deleted file, and for a directory whose lower
//!   content must vanish (`rm -rf d; mkdir d`) the xattr
//!   `trusted.overlay.opaque=y` on the new directory;
//! - image layer tars (OCI, inherited from aufs, which put them on disk): an
//!   empty regular file `.wh.NAME` beside the deleted NAME, and an entry
//!   `.wh..wh..opq` inside a directory that hides everything lower layers
//!   have in it.
//!
//! Export turns the first spelling into the second; apply turns it back.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// The prefix of an aufs/OCI whiteout file name.
pub const PREFIX: &str = ".wh.";
/// The entry that marks its directory opaque.
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// aufs kept its own bookkeeping under this prefix; only the opaque marker
/// of it survives in image layers.
const AUFS_META_PREFIX: &str = ".wh..wh.";
/// The xattr overlayfs reads to treat a directory as opaque.
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// Every xattr overlayfs keeps for itself starts with this.
pub const OVERLAY_XATTR_PREFIX: &str = "trusted.overlay.";

/// What the last component of a layer tar entry means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marker<'a> {
    /// An ordinary file, directory or link.
    Plain,
    /// `.wh.NAME`: hide NAME of the lower layers (NAME is returned).
    Whiteout(&'a [u8]),
    /// `.wh..wh..opq`: hide every lower child of the directory.
    Opaque,
}

/// The tar name for a whiteout of `name`: `.wh.NAME`.
pub fn whiteout_name(name: &OsStr) -> OsString {
    let mut v = PREFIX.as_bytes().to_vec();
    v.extend_from_slice(name.as_bytes());
    OsString::from_vec(v)
}

/// Read one file name from a layer tar. A whiteout must hide a name in its
/// own directory: `.wh.` alone, `.wh..` and `.wh...` would hide the
/// directory itself or its parent, and are refused, as is aufs bookkeeping
/// other than the opaque marker.
pub fn classify(file_name: &[u8]) -> Result<Marker<'_>, String> {
    if file_name == OPAQUE_MARKER.as_bytes() {
        return Ok(Marker::Opaque);
    }
    if file_name.starts_with(AUFS_META_PREFIX.as_bytes()) {
        return Err("aufs bookkeeping entry (.wh..wh.*), not layer content".into());
    }
    let Some(hidden) = file_name.strip_prefix(PREFIX.as_bytes()) else {
        return Ok(Marker::Plain);
    };
    match hidden {
        b"" => Err("whiteout without a name to hide".into()),
        b"." | b".." => {
            Err("whiteout escapes its directory (it names the directory or its parent)".into())
        }
        _ => Ok(Marker::Whiteout(hidden)),
    }
}

/// The components of a tar entry path, checked so that joining them under a
/// root can never leave it: no absolute paths, no `..`; `./` and `.` parts
/// are dropped. An empty list means the root itself (`./`, or `/` alone,
/// which is how umoci writes the root entry: it names no other place).
pub fn components(raw: &[u8]) -> Result<Vec<&[u8]>, String> {
    if raw.first() == Some(&b'/') && raw.iter().any(|&b| b != b'/') {
        return Err("absolute path: layer entries are relative to the layer's root".into());
    }
    let mut out = Vec::new();
    for part in raw.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => return Err("path contains `..`: it would climb out of the target".into()),
            _ => out.push(part),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whiteout_names_get_the_aufs_prefix() {
        assert_eq!(
            whiteout_name(OsStr::new("motd")),
            OsString::from(".wh.motd")
        );
        assert_eq!(
            whiteout_name(OsStr::new(".profile")),
            OsString::from(".wh..profile")
        );
    }

    #[test]
    fn classify_reads_whiteouts_and_opaque_markers() {
        assert_eq!(classify(b"motd"), Ok(Marker::Plain));
        assert_eq!(classify(b".wh.motd"), Ok(Marker::Whiteout(b"motd")));
        assert_eq!(classify(b".wh..profile"), Ok(Marker::Whiteout(b".profile")));
        assert_eq!(classify(b".wh..wh..opq"), Ok(Marker::Opaque));
        assert_eq!(classify(b".whatever"), Ok(Marker::Plain));
    }

    #[test]
    fn classify_refuses_whiteouts_that_escape() {
        for bad in [
            &b".wh."[..],
            b".wh..",
            b".wh...",
            b".wh..wh.plnk",
            b".wh..wh..opq2",
        ] {
            assert!(
                classify(bad).is_err(),
                "{:?} accepted",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn export_then_classify_round_trips() {
        let name = whiteout_name(OsStr::new("a b.txt"));
        assert_eq!(classify(name.as_bytes()), Ok(Marker::Whiteout(b"a b.txt")));
    }

    #[test]
    fn components_drop_dots_and_refuse_escapes() {
        assert_eq!(
            components(b"./etc//motd").unwrap(),
            vec![&b"etc"[..], b"motd"]
        );
        assert_eq!(
            components(b"etc/config/").unwrap(),
            vec![&b"etc"[..], b"config"]
        );
        assert!(components(b"./").unwrap().is_empty());
        assert!(components(b"/").unwrap().is_empty());
        assert!(components(b"/etc").is_err());
        assert!(components(b"/etc/passwd").is_err());
        assert!(components(b"a/../../etc").is_err());
        assert!(components(b"..").is_err());
        assert_eq!(components(b"a/..b").unwrap(), vec![&b"a"[..], b"..b"]);
    }
}
