//! `wharf cp`: Docker's command line over [`crate::lifecycle::copy`].
//! One side is `CONTAINER:PATH`; the other a host path, or `-` for a tar
//! stream on stdin (into the container) or stdout (out of it).

use std::path::Path;

use anyhow::bail;
use clap::Args;

use crate::lifecycle::{self, copy};

#[derive(Debug, Args)]
pub struct CpArgs {
    /// CONTAINER:SRC_PATH, a host path, or `-` (a tar on stdin).
    pub src: String,
    /// CONTAINER:DEST_PATH, a host path, or `-` (a tar on stdout).
    pub dest: String,
}

/// `CONTAINER:PATH` → (container, path); a local path is anything else
/// (Docker's rule: a `/` before the first `:` makes it local).
fn split(arg: &str) -> Option<(&str, &str)> {
    let (c, p) = arg.split_once(':')?;
    (!c.is_empty() && !c.contains('/')).then_some((c, p))
}

pub fn cp(a: CpArgs) -> anyhow::Result<i32> {
    match (split(&a.src), split(&a.dest)) {
        (Some((c, src)), None) => {
            let root = lifecycle::mounted_root(&lifecycle::find(c)?)?;
            match a.dest.as_str() {
                "-" => copy::tar_out(&root, src, std::io::stdout().lock())?,
                dest => copy::piped(
                    |w| copy::tar_out(&root, src, w),
                    |r| copy::untar_host(Path::new(dest), r),
                )?,
            }
        }
        (None, Some((c, dest))) => {
            let root = lifecycle::mounted_root(&lifecycle::find(c)?)?;
            match a.src.as_str() {
                "-" => copy::tar_in(&root, dest, std::io::stdin().lock())?,
                src => copy::piped(
                    |w| copy::tar_host(Path::new(src), w),
                    |r| copy::tar_in(&root, dest, r),
                )?,
            }
        }
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => bail!("must specify at least one container source (CONTAINER:PATH)"),
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn container_paths_are_told_from_host_paths() {
        assert_eq!(super::split("web:/etc/hosts"), Some(("web", "/etc/hosts")));
        assert_eq!(super::split("./a:b"), None);
        assert_eq!(super::split("/tmp/x"), None);
        assert_eq!(super::split("-"), None);
    }
}
