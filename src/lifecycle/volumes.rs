//! A container's `-v`, `--mount` and `--tmpfs` mounts. The mechanism is chapter 07's
//! ([`crate::volume`]: the `-v` forms, the named-volume store and who
//! uses each volume); here a container gets them for its whole life: the
//! flags are checked before anything is made, the volumes are taken at
//! create (the store records the container as a user, so `wharf volume
//! rm` refuses a volume in use), the OCI spec carries them as bind and
//! tmpfs mounts for the runtime to make in the container's own mount
//! namespace, and `rm` gives them back (anonymous ones go with `rm -v`
//! or `--rm`).

use std::path::PathBuf;

use anyhow::bail;
use serde::{Deserialize, Serialize};

use crate::container::SpecBuilder;
use crate::volume::{self, named, Source, VolumeSpec};

/// One mount of the container, as the record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerMount {
    /// `bind` (a host path), `volume` (named or anonymous) or `tmpfs`.
    pub kind: String,
    /// The host directory bound in (empty for tmpfs).
    pub source: PathBuf,
    pub destination: PathBuf,
    pub read_only: bool,
    /// The wharf volume behind it.
    pub volume: Option<String>,
    pub anonymous: bool,
    /// tmpfs options given (`size=64m,mode=1777`).
    pub options: Vec<String>,
}

/// The flags, checked for form and for their host paths: nothing is
/// made yet, so a bad flag leaves nothing behind.
pub struct Planned {
    volumes: Vec<VolumeSpec>,
    tmpfs: Vec<(PathBuf, Vec<String>)>,
}

/// Check `-v`, `--tmpfs` and `--mount` flags; a `--mount` is first
/// spelled as the `-v` or `--tmpfs` it means, so one parser checks all.
/// `--volumes-from C[:ro|rw]` adds the binds and volumes of container C
/// (its tmpfs mounts are its own), shared, not copied.
pub fn plan(
    volumes: &[String],
    tmpfs: &[String],
    mounts: &[String],
    volumes_from: &[String],
) -> anyhow::Result<Planned> {
    let (mut volumes, mut tmpfs) = (volumes.to_vec(), tmpfs.to_vec());
    for from in volumes_from {
        volumes.extend(borrowed(from)?);
    }
    for m in mounts {
        match mount_flag(m)? {
            (true, t) => tmpfs.push(t),
            (false, v) => volumes.push(v),
        }
    }
    let volumes = volume::parse_all(&volumes)?;
    volume::check_sources(&volumes)?;
    let tmpfs = tmpfs
        .iter()
        .map(|t| {
            let (dest, opts) = t.split_once(':').unwrap_or((t, ""));
            let dest = PathBuf::from(dest);
            if !dest.is_absolute()
                || dest.parent().is_none()
                || dest.components().any(|c| c.as_os_str() == "..")
            {
                bail!("--tmpfs {t}: the container path must be absolute, not /, without '..'");
            }
            let opts = opts
                .split(',')
                .filter(|o| !o.is_empty())
                .map(String::from)
                .collect();
            Ok((dest, opts))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Planned { volumes, tmpfs })
}

/// The `-v` texts that give container `from`'s binds and volumes again.
fn borrowed(from: &str) -> anyhow::Result<Vec<String>> {
    let (name, mode) = match from.rsplit_once(':') {
        Some((n, m @ ("ro" | "rw"))) => (n, Some(m)),
        _ => (from, None),
    };
    let rec = super::find(name).map_err(|e| anyhow::anyhow!("--volumes-from {from}: {e}"))?;
    Ok(rec
        .mounts
        .iter()
        .filter(|m| m.kind != "tmpfs")
        .map(|m| {
            let src = m
                .volume
                .clone()
                .unwrap_or_else(|| m.source.display().to_string());
            let ro = mode.map_or(m.read_only, |x| x == "ro");
            format!(
                "{src}:{}{}",
                m.destination.display(),
                if ro { ":ro" } else { "" }
            )
        })
        .collect())
}

/// `--mount type=bind|volume|tmpfs,source=…,target=…[,readonly]
/// [,tmpfs-size=…][,tmpfs-mode=…]` as (is tmpfs, the `--tmpfs` or `-v`
/// text it means).
fn mount_flag(flag: &str) -> anyhow::Result<(bool, String)> {
    let (mut typ, mut src, mut dst, mut ro, mut opts) = ("volume", "", "", false, Vec::new());
    for kv in flag.split(',') {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        match k {
            "type" => typ = v,
            "source" | "src" => src = v,
            "target" | "destination" | "dst" => dst = v,
            "readonly" | "ro" => ro = v.is_empty() || v == "true" || v == "1",
            "tmpfs-size" => opts.push(format!("size={v}")),
            "tmpfs-mode" => opts.push(format!("mode={v}")),
            other => bail!("--mount {flag}: unknown key {other:?}"),
        }
    }
    if dst.is_empty() {
        bail!("--mount {flag}: give target=PATH (the path inside the container)");
    }
    let mode = if ro { ":ro" } else { "" };
    match (typ, src) {
        ("tmpfs", "") => Ok((true, format!("{dst}:{}", opts.join(",")))),
        ("tmpfs", _) => bail!("--mount {flag}: a tmpfs has no source"),
        ("bind", "") => bail!("--mount {flag}: a bind needs source=HOST_PATH"),
        ("bind" | "volume", s) if !s.is_empty() => Ok((false, format!("{s}:{dst}{mode}"))),
        ("volume", _) => Ok((false, format!("{dst}{mode}"))),
        (other, _) => bail!("--mount {flag}: unknown type {other:?}: use bind, volume or tmpfs"),
    }
}

/// Take the volumes for container `id`: named ones are created if new,
/// anonymous ones made; the store now lists `id` as a user of each.
pub fn attach(p: &Planned, id: &str) -> anyhow::Result<Vec<ContainerMount>> {
    let mut out = Vec::new();
    for v in &p.volumes {
        let (kind, source, volume, anonymous) = match &v.source {
            Source::Host(path) => ("bind", path.clone(), None, false),
            Source::Named(n) => (
                "volume",
                named::use_volume(n, false, id)?,
                Some(n.clone()),
                false,
            ),
            Source::Anonymous => {
                let n = named::anonymous_name()?;
                ("volume", named::use_volume(&n, true, id)?, Some(n), true)
            }
        };
        out.push(ContainerMount {
            kind: kind.into(),
            source,
            destination: v.target.clone(),
            read_only: v.read_only,
            volume,
            anonymous,
            options: Vec::new(),
        });
    }
    out.extend(p.tmpfs.iter().map(|(dest, opts)| ContainerMount {
        kind: "tmpfs".into(),
        source: PathBuf::new(),
        destination: dest.clone(),
        read_only: false,
        volume: None,
        anonymous: false,
        options: opts.clone(),
    }));
    Ok(out)
}

/// Give the volumes back; an anonymous one is removed with `drop_anonymous`.
pub fn detach(mounts: &[ContainerMount], id: &str, drop_anonymous: bool) -> anyhow::Result<()> {
    for m in mounts {
        if let Some(v) = &m.volume {
            named::release(v, id, !drop_anonymous)?;
        }
    }
    Ok(())
}

/// The mounts in the OCI spec: a bind is `rbind` (and `ro`: the runtime
/// remounts it read-only, the second call a bind needs); a tmpfs gets
/// Docker's `nosuid,nodev,noexec` before the options given.
pub fn add_to_spec(mut b: SpecBuilder, mounts: &[ContainerMount]) -> SpecBuilder {
    for m in mounts {
        let dest = m.destination.to_string_lossy();
        if m.kind == "tmpfs" {
            let mut opts = vec!["nosuid", "nodev", "noexec"];
            opts.extend(m.options.iter().map(String::as_str));
            b = b.mount("tmpfs", &dest, "tmpfs", &opts);
        } else {
            let mode = if m.read_only { "ro" } else { "rw" };
            b = b.mount(&m.source.to_string_lossy(), &dest, "bind", &["rbind", mode]);
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::mount_flag;

    #[test]
    fn mount_flags_read_as_the_v_they_mean() {
        let f = |s: &str| mount_flag(s).unwrap();
        assert_eq!(
            f("type=bind,source=/srv,target=/s,readonly"),
            (false, "/srv:/s:ro".into())
        );
        assert_eq!(
            f("type=volume,src=db,dst=/var/db"),
            (false, "db:/var/db".into())
        );
        assert_eq!(f("target=/cache"), (false, "/cache".into()));
        assert_eq!(
            f("type=tmpfs,target=/run,tmpfs-size=1m"),
            (true, "/run:size=1m".into())
        );
        for bad in [
            "type=bind,target=/x",
            "type=nfs,target=/x",
            "source=a",
            "type=tmpfs,src=a,dst=/x",
            "bogus=1,target=/x",
        ] {
            assert!(mount_flag(bad).is_err(), "{bad}");
        }
    }
}
