//! A COPY step: the sources (from the build context, or with `--from` from
//! an earlier stage or an image) are copied into a fresh directory laid
//! out like an overlay upper dir (`dest` below its root), which becomes
//! the step's layer. The cache key includes a digest of every file read
//! (path, mode, content), so changing one source rebuilds from here on.
//!
//! Owners are root's unless `--chown=UID[:GID]`; modes are the sources'
//! unless `--chmod=OCTAL`. The directories made to hold `dest` get the
//! build's time (SOURCE_DATE_EPOCH when set), so a build is reproducible.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use parse_dockerfile::{Flag, Source, UnescapedString};
use sha2::{Digest as _, Sha256};

use super::context::Context;
use super::dockerfile;
use super::stage::{Builder, State};
use crate::image::{time, unpack::unpack, Quiet};

struct Owner {
    uid: Option<u32>,
    gid: Option<u32>,
    mode: Option<u32>,
}

/// The parts COPY and ADD share.
pub struct Args<'i> {
    pub options: &'i [Flag<'i>],
    pub src: &'i [Source<'i>],
    pub dest: &'i UnescapedString<'i>,
    /// ADD: unpack local archives, download URLs.
    pub add: bool,
}

impl<'i> Args<'i> {
    pub fn new(
        options: &'i [Flag<'i>],
        src: &'i [Source<'i>],
        dest: &'i UnescapedString<'i>,
        add: bool,
    ) -> Self {
        Args {
            options,
            src,
            dest,
            add,
        }
    }
}

pub fn step(b: &mut Builder, st: &mut State, text: &str, c: Args) -> anyhow::Result<()> {
    let mut from = None;
    let mut owner = Owner {
        uid: None,
        gid: None,
        mode: None,
    };
    let what = if c.add { "ADD" } else { "COPY" };
    let known: &[&str] = match c.add {
        true => &["chown", "chmod"],
        false => &["from", "chown", "chmod"],
    };
    for (k, v) in dockerfile::flags(c.options, known, what)? {
        match k {
            "from" => from = Some(v.to_string()),
            "chown" => (owner.uid, owner.gid) = chown(v)?,
            _ => {
                owner.mode = Some(
                    u32::from_str_radix(v, 8)
                        .with_context(|| format!("{what} --chmod={v}: not an octal mode"))?,
                )
            }
        }
    }
    let work = b.store.work_dir()?;
    let other;
    let ctx = match &from {
        None => b.ctx,
        Some(name) => {
            let img = b.stage_image(name)?;
            let root = work.path.join("from");
            unpack(b.store, &img, &root, &Quiet)?;
            other = Context::open(&root)?;
            &other
        }
    };
    // Each source with its name for the cache key: its context path, or its URL.
    let mut sources: Vec<(String, PathBuf)> = Vec::new();
    for s in c.src {
        let Source::Path(p) = s else {
            bail!("{text}: heredoc sources are not supported yet")
        };
        let p = st.expand(&p.value);
        if c.add && super::add::is_url(&p) {
            let dir = work.path.join(format!("url-{}", sources.len()));
            let got = super::add::download(&p, &dir)?;
            fs::set_permissions(&got, fs::Permissions::from_mode(0o600))?;
            fs::File::open(&got)?.set_modified(build_time())?;
            sources.push((p, got));
            continue;
        }
        for found in ctx.glob(&p)? {
            let rel = found.strip_prefix(&ctx.root).unwrap_or(&found);
            sources.push((rel.display().to_string(), found));
        }
    }
    let files = sources_digest(&sources)?;
    if b.cached(st, text, Some(&files)) {
        return Ok(());
    }
    let dest = st.expand(&c.dest.value);
    let remote: Vec<bool> = sources.iter().map(|(n, _)| super::add::is_url(n)).collect();
    let sources: Vec<PathBuf> = sources.into_iter().map(|(_, p)| p).collect();
    let upper = work.path.join("upper");
    let target = place(&upper, &dest, st.config.working_dir().as_deref())?;
    let into_dir = dest.ends_with('/') || sources.len() > 1 || sources.iter().any(|s| s.is_dir());
    for (s, remote) in sources.iter().zip(remote) {
        if c.add && !remote && s.is_file() && super::add::extract(s, &target)? {
            continue;
        }
        let to = match (into_dir, s.is_dir()) {
            (_, true) => target.clone(),
            (true, false) => target.join(s.file_name().context("a source has no name")?),
            (false, false) => target.clone(),
        };
        copy_tree(s, &to, &owner)?;
    }
    // A directory source gave `target` its own time; otherwise COPY made it.
    let made = match sources.iter().any(|s| s.is_dir()) {
        true => target.parent(),
        false => into_dir.then_some(target.as_path()).or(target.parent()),
    };
    stamp_dirs(&upper, made)?;
    let created_by = format!("/bin/sh -c #(nop) {what} {} in {dest}", &files[..19]);
    b.commit(st, text, Some(&upper), created_by, Some(&files))
}

fn chown(v: &str) -> anyhow::Result<(Option<u32>, Option<u32>)> {
    let (u, g) = v.split_once(':').unwrap_or((v, v));
    let num = |s: &str| {
        s.parse::<u32>()
            .with_context(|| format!("COPY --chown={v}: only numeric UID[:GID] is supported"))
    };
    Ok((Some(num(u)?), Some(num(g)?)))
}

/// The host path of `dest` inside the new layer (relative to WORKDIR).
fn place(upper: &Path, dest: &str, workdir: Option<&str>) -> anyhow::Result<PathBuf> {
    let abs = Path::new(workdir.unwrap_or("/")).join(dest);
    let mut p = upper.to_path_buf();
    for comp in abs.components() {
        if let std::path::Component::Normal(n) = comp {
            p.push(n);
        } else if comp == std::path::Component::ParentDir {
            bail!("COPY destination {dest:?} may not contain ..");
        }
    }
    fs::create_dir_all(upper)?;
    Ok(p)
}

fn copy_tree(src: &Path, to: &Path, owner: &Owner) -> anyhow::Result<()> {
    let meta = fs::symlink_metadata(src)?;
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)?;
    }
    if meta.is_dir() {
        fs::create_dir_all(to)?;
        let mut names: Vec<_> = fs::read_dir(src)?.collect::<Result<_, _>>()?;
        names.sort_by_key(|e| e.file_name());
        for e in names {
            copy_tree(&e.path(), &to.join(e.file_name()), owner)?;
        }
    } else if meta.file_type().is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(src)?, to)?;
    } else if meta.is_file() {
        fs::copy(src, to).with_context(|| format!("copying {}", src.display()))?;
    } else {
        bail!(
            "COPY: {} is not a file, directory or symlink",
            src.display()
        );
    }
    std::os::unix::fs::lchown(
        to,
        Some(owner.uid.unwrap_or(0)),
        Some(owner.gid.unwrap_or(0)),
    )?;
    if !meta.file_type().is_symlink() {
        let mode = owner.mode.unwrap_or(meta.mode() & 0o7777);
        fs::set_permissions(to, fs::Permissions::from_mode(mode))?;
        let f = fs::File::open(to)?;
        f.set_modified(meta.modified()?)?;
    }
    Ok(())
}

/// The directories from the layer's root down to `made` that COPY made
/// get the build's time, not the moment they were made.
pub(super) fn stamp_dirs(upper: &Path, made: Option<&Path>) -> anyhow::Result<()> {
    let when = build_time();
    let mut p = made;
    while let Some(d) = p {
        if !d.starts_with(upper) {
            break;
        }
        fs::File::open(d)?.set_modified(when)?;
        p = d.parent();
    }
    Ok(())
}

/// Now, or SOURCE_DATE_EPOCH.
pub(super) fn build_time() -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(time::now().max(0) as u64)
}

/// sha256 over every file read: its name (context path or URL), and below
/// it each path, mode and bytes.
fn sources_digest(sources: &[(String, PathBuf)]) -> anyhow::Result<String> {
    let mut h = Sha256::new();
    for (name, s) in sources {
        h.update(format!("{name}\0"));
        hash_tree(s, s, &mut h)?;
    }
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}

fn hash_tree(root: &Path, p: &Path, h: &mut Sha256) -> anyhow::Result<()> {
    let meta = fs::symlink_metadata(p)?;
    let rel = p.strip_prefix(root).unwrap_or(p);
    h.update(format!("{}\0{:o}\0", rel.display(), meta.mode()));
    if meta.is_dir() {
        let mut names: Vec<_> = fs::read_dir(p)?.collect::<Result<_, _>>()?;
        names.sort_by_key(|e| e.file_name());
        for e in names {
            hash_tree(root, &e.path(), h)?;
        }
    } else if meta.file_type().is_symlink() {
        h.update(fs::read_link(p)?.as_os_str().as_encoded_bytes());
    } else {
        let mut f = fs::File::open(p)?;
        std::io::copy(&mut f, h)?;
    }
    Ok(())
}
