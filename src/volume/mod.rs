//! Volumes and the init layer (chapter 07): data that lives outside the
//! container's layers, and the few files every container needs of its own.
//!
//! A volume is a host directory bind-mounted into the container's root
//! after the union is assembled and before pivot_root, inside the
//! container's private mount namespace: the host never sees the mount, the
//! data never enters the upper dir, and it outlives the container.
//!
//! - `-v /host/dir:/ctr[:ro]` binds a host path ([`Source::Host`]).
//! - `-v NAME:/ctr` binds a *named* volume, a directory wharf manages under
//!   `<state root>/volumes/NAME/_data` ([`named`]).
//! - `-v /ctr` makes an *anonymous* volume: named by wharf, removed with the
//!   container unless kept.

pub mod bind;
pub mod initlayer;
pub mod named;

use std::path::{Component, Path, PathBuf};

use crate::ns::run::Hooks;
use crate::union::Rootfs;

/// Where a volume's data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A host path, given absolute.
    Host(PathBuf),
    /// A named volume managed by wharf.
    Named(String),
    /// A fresh volume for this container only.
    Anonymous,
}

/// One `-v` flag, checked for form only (nothing on disk is looked at).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec {
    pub source: Source,
    /// Absolute path inside the container.
    pub target: PathBuf,
    pub read_only: bool,
}

impl std::str::FromStr for VolumeSpec {
    type Err = anyhow::Error;

    /// `HOST:CTR[:ro|rw]`, `NAME:CTR[:ro|rw]`, or `CTR[:ro|rw]`.
    fn from_str(spec: &str) -> anyhow::Result<VolumeSpec> {
        let parts: Vec<&str> = spec.split(':').collect();
        let mode = |m: &str| match m {
            "ro" => Ok(true),
            "rw" => Ok(false),
            other => Err(anyhow::anyhow!(
                "-v {spec}: unknown mode {other:?}: use ro or rw"
            )),
        };
        let (source, target, read_only) = match parts.as_slice() {
            [ctr] => (Source::Anonymous, *ctr, false),
            [ctr, m @ ("ro" | "rw")] => (Source::Anonymous, *ctr, mode(m)?),
            [src, ctr] => (source(spec, src)?, *ctr, false),
            [src, ctr, m] => (source(spec, src)?, *ctr, mode(m)?),
            _ => anyhow::bail!(
                "-v {spec}: too many ':' parts: use HOST:CTR[:ro], NAME:CTR[:ro] or CTR"
            ),
        };
        Ok(VolumeSpec {
            source,
            target: target_path(spec, target)?,
            read_only,
        })
    }
}

/// An absolute host path, or a volume name; anything else is refused.
fn source(spec: &str, src: &str) -> anyhow::Result<Source> {
    if src.starts_with('/') {
        return Ok(Source::Host(PathBuf::from(src)));
    }
    if src.contains('/') || src.starts_with('.') || src.starts_with('~') {
        anyhow::bail!("-v {spec}: host path {src:?} is relative: give an absolute path (e.g. \"$PWD/{src}\"); a plain name means a named volume");
    }
    named::check_name(src).map_err(|e| anyhow::anyhow!("-v {spec}: {e}"))?;
    Ok(Source::Named(src.to_string()))
}

/// The container path: absolute, not `/`, no `..`.
fn target_path(spec: &str, ctr: &str) -> anyhow::Result<PathBuf> {
    let p = PathBuf::from(ctr);
    if !p.is_absolute() {
        anyhow::bail!("-v {spec}: container path {ctr:?} is not absolute: write it as it is seen inside, e.g. /{ctr}");
    }
    if p.components().any(|c| c == Component::ParentDir) {
        anyhow::bail!(
            "-v {spec}: container path {ctr:?} contains '..': name the directory directly"
        );
    }
    if p.parent().is_none() {
        anyhow::bail!("-v {spec}: a volume cannot cover the container's whole root '/'");
    }
    Ok(p)
}

/// Parse every `-v` flag; the first bad one is the error.
pub fn parse_all(specs: &[String]) -> anyhow::Result<Vec<VolumeSpec>> {
    specs.iter().map(|s| s.parse()).collect()
}

/// Refuse a spec whose host path is missing, before anything is created.
pub fn check_sources(specs: &[VolumeSpec]) -> anyhow::Result<()> {
    for s in specs {
        if let Source::Host(p) = &s.source {
            if p.symlink_metadata().is_err() {
                anyhow::bail!(
                    "-v {}:{}: host path {} does not exist: create it first (wharf does not, so a typo cannot make a stray directory)",
                    p.display(),
                    s.target.display(),
                    p.display()
                );
            }
        }
    }
    Ok(())
}

/// A volume ready to be mounted: host directory (or file) and target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub source: PathBuf,
    pub target: PathBuf,
    pub read_only: bool,
    /// The wharf volume behind it, if it is one (named or anonymous).
    pub volume: Option<String>,
    pub anonymous: bool,
}

/// The volumes of one running container. Attaching records the container
/// as a user of each wharf volume; dropping this detaches it again and
/// removes its anonymous volumes, unless they are kept.
#[derive(Debug)]
pub struct Attached {
    pub mounts: Vec<Mount>,
    container: String,
    keep_anonymous: bool,
}

impl Attached {
    /// Resolve `specs` for `container`: create the anonymous volumes and any
    /// named volume not yet there (as Docker does), and record the container
    /// as their user.
    pub fn attach(
        specs: &[VolumeSpec],
        container: &str,
        keep_anonymous: bool,
    ) -> anyhow::Result<Attached> {
        check_sources(specs)?;
        let mut attached = Attached {
            mounts: Vec::new(),
            container: container.to_string(),
            keep_anonymous,
        };
        for s in specs {
            let (source, volume) = match &s.source {
                Source::Host(p) => (p.clone(), None),
                Source::Named(name) => (
                    named::use_volume(name, false, container)?,
                    Some(name.clone()),
                ),
                Source::Anonymous => {
                    let name = named::anonymous_name()?;
                    (named::use_volume(&name, true, container)?, Some(name))
                }
            };
            let anonymous = s.source == Source::Anonymous;
            attached.mounts.push(Mount {
                source,
                target: s.target.clone(),
                read_only: s.read_only,
                volume,
                anonymous,
            });
        }
        Ok(attached)
    }

    fn release(&self) -> anyhow::Result<()> {
        for name in self.mounts.iter().filter_map(|m| m.volume.as_deref()) {
            named::release(name, &self.container, self.keep_anonymous)?;
        }
        Ok(())
    }
}

impl Attached {
    /// One line per mount: `/data <- volume NAME /var/lib/... (rw)`.
    pub fn describe(&self) -> Vec<String> {
        self.mounts
            .iter()
            .map(|m| {
                let what = match &m.volume {
                    Some(name) => format!("volume {name}"),
                    None => "host path".into(),
                };
                let mode = if m.read_only { "ro" } else { "rw" };
                format!(
                    "{} <- {what} {} ({mode})",
                    m.target.display(),
                    m.source.display()
                )
            })
            .collect()
    }
}

/// What chapter 07 says after the container ends: where the root came
/// from, where each volume came from, where the writes went, and what is
/// kept (`keep`: the container dir; anonymous volumes with `keep_anonymous`).
pub fn report(root: &Rootfs, vols: &Attached, id: &str, keep: bool) -> anyhow::Result<Vec<String>> {
    let image = root.lowers.len() - 1;
    let init = root.dir.join("init");
    let files = initlayer::FILES.join(", /etc/");
    let mut out = vec![format!(
        "container {id}: {image} image layer(s) + its init layer {} (/etc/{files})",
        init.display()
    )];
    out.extend(vols.describe());
    out.extend(crate::union::changes::report(root)?);
    if !vols.mounts.is_empty() {
        out.push("(a volume leaves only its empty mount point in the upper dir; its files stay in the volume)".into());
    }
    let fate = |kept: bool| if kept { "kept" } else { "removed" };
    out.push(format!("{} {}", fate(keep), root.dir.display()));
    if vols.mounts.iter().any(|m| m.anonymous) {
        out.push(format!(
            "anonymous volumes {} with it; named volumes and host paths keep their data",
            fate(vols.keep_anonymous)
        ));
    }
    Ok(out)
}

impl Drop for Attached {
    fn drop(&mut self) {
        if let Err(e) = self.release() {
            eprintln!(
                "warning: releasing the volumes of {}: {e:#}",
                self.container
            );
        }
    }
}

/// Mount every volume under `root` (the assembled rootfs), in order, so a
/// later volume may sit inside an earlier one.
pub fn mount_all(root: &Path, mounts: &[Mount]) -> anyhow::Result<()> {
    for m in mounts {
        bind::mount(root, m)?;
    }
    Ok(())
}

/// Chapter 07's hook, run in the child before pivot_root: assemble the
/// union, then mount the volumes on it.
pub struct WithVolumes<'a> {
    pub rootfs: &'a Rootfs,
    pub mounts: &'a [Mount],
}

impl Hooks for WithVolumes<'_> {
    fn build_root(&mut self, _rootfs: &Path) -> anyhow::Result<PathBuf> {
        let root = self.rootfs.mount()?;
        mount_all(&root, self.mounts)?;
        Ok(root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> anyhow::Result<VolumeSpec> {
        s.parse()
    }

    #[test]
    fn the_three_kinds_parse() {
        let v = parse("/srv/data:/data:ro").unwrap();
        assert_eq!(v.source, Source::Host("/srv/data".into()));
        assert_eq!(
            (v.target.as_path(), v.read_only),
            (Path::new("/data"), true)
        );
        assert_eq!(
            parse("cache:/var/cache").unwrap().source,
            Source::Named("cache".into())
        );
        let a = parse("/scratch").unwrap();
        assert_eq!((a.source, a.read_only), (Source::Anonymous, false));
        assert!(parse("/scratch:ro").unwrap().read_only);
        assert!(!parse("/a:/b:rw").unwrap().read_only);
    }

    #[test]
    fn a_relative_host_path_is_refused() {
        let e = parse("relative/path:/x").unwrap_err().to_string();
        assert!(e.contains("relative") && e.contains("absolute"), "{e}");
        assert!(parse("./here:/x").is_err());
    }

    #[test]
    fn extra_parts_are_refused() {
        let e = parse("/a:/b:rw:extra").unwrap_err().to_string();
        assert!(e.contains("too many"), "{e}");
        assert!(parse("/a:/b:rx")
            .unwrap_err()
            .to_string()
            .contains("ro or rw"));
    }

    #[test]
    fn the_container_path_must_be_absolute_and_plain() {
        assert!(parse("/tmp:data")
            .unwrap_err()
            .to_string()
            .contains("not absolute"));
        assert!(parse("/tmp:/a/../etc")
            .unwrap_err()
            .to_string()
            .contains(".."));
        assert!(parse("/tmp:/")
            .unwrap_err()
            .to_string()
            .contains("whole root"));
        assert!(parse("data")
            .unwrap_err()
            .to_string()
            .contains("not absolute"));
    }

    #[test]
    fn a_missing_host_path_is_refused() {
        let specs = parse_all(&["/no/such/wharf/dir:/x".to_string()]).unwrap();
        assert!(check_sources(&specs)
            .unwrap_err()
            .to_string()
            .contains("does not exist"));
    }
}
