//! The build context: the directory COPY reads from. Every source is
//! resolved *inside* it, the way a chroot would see it: `..` cannot climb
//! above its root and a symlink pointing outside (absolute or relative)
//! is refused, so a Dockerfile cannot read the host's files. Paths that
//! `.dockerignore` names are not part of the context at all.

use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context as _};
use globset::{Glob, GlobSet, GlobSetBuilder};

pub struct Context {
    pub root: PathBuf,
    ignore: GlobSet,
    /// `!pattern` lines: exceptions to the ignore list.
    keep: GlobSet,
}

impl Context {
    pub fn open(root: &Path) -> anyhow::Result<Context> {
        let root = root
            .canonicalize()
            .with_context(|| format!("build context {}", root.display()))?;
        if !root.is_dir() {
            bail!("build context {} is not a directory", root.display());
        }
        let rules = std::fs::read_to_string(root.join(".dockerignore")).unwrap_or_default();
        let (mut ignore, mut keep) = (GlobSetBuilder::new(), GlobSetBuilder::new());
        for line in rules.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (set, pat) = match line.strip_prefix('!') {
                Some(p) => (&mut keep, p),
                None => (&mut ignore, line),
            };
            let pat = pat.trim_start_matches('/');
            set.add(Glob::new(pat).with_context(|| format!(".dockerignore: {line:?}"))?);
            // `dir` ignores what is below it too, as Docker reads it.
            set.add(Glob::new(&format!("{pat}/**"))?);
        }
        Ok(Context {
            root,
            ignore: ignore.build()?,
            keep: keep.build()?,
        })
    }

    /// Whether `rel` (a path inside the context) is left out by .dockerignore.
    pub fn ignored(&self, rel: &Path) -> bool {
        self.ignore.is_match(rel) && !self.keep.is_match(rel)
    }

    /// The host path of the context path `src`, which must stay inside.
    pub fn resolve(&self, src: &str) -> anyhow::Result<PathBuf> {
        let rel = lexical(src);
        let host = self.root.join(&rel);
        let real = host
            .canonicalize()
            .with_context(|| format!("COPY source {src:?}: not found in the build context"))?;
        if !real.starts_with(&self.root) {
            bail!(
                "COPY source {src:?} is outside the build context (it resolves to {})",
                real.display()
            );
        }
        if self.ignored(&rel) {
            bail!("COPY source {src:?} is excluded by .dockerignore");
        }
        Ok(real)
    }

    /// Sources matching the glob `pattern` (`*.txt`, `src/?.rs`), sorted.
    pub fn glob(&self, pattern: &str) -> anyhow::Result<Vec<PathBuf>> {
        if !pattern.contains(['*', '?', '[']) {
            return Ok(vec![self.resolve(pattern)?]);
        }
        let rel = lexical(pattern);
        let matcher = Glob::new(&rel.to_string_lossy())?.compile_matcher();
        let mut found = Vec::new();
        let dir = rel.parent().unwrap_or(Path::new(""));
        let base = self.resolve(&dir.to_string_lossy())?;
        for e in std::fs::read_dir(&base)? {
            let name = dir.join(e?.file_name());
            if matcher.is_match(&name) && !self.ignored(&name) {
                found.push(self.resolve(&name.to_string_lossy())?);
            }
        }
        if found.is_empty() {
            bail!("COPY source {pattern:?}: no file in the build context matches");
        }
        found.sort();
        Ok(found)
    }
}

/// `src` as a relative path with `.` and `..` worked out lexically, never
/// above the root (`../../etc` is `etc`, as in a chroot).
fn lexical(src: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for c in Path::new(src).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_stay_inside_and_ignores_apply() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = dir.path().join("ctx");
        std::fs::create_dir_all(ctx.join("sub")).unwrap();
        std::fs::write(ctx.join("a.txt"), "a").unwrap();
        std::fs::write(ctx.join("b.txt"), "b").unwrap();
        std::fs::write(ctx.join("secret"), "s").unwrap();
        std::fs::write(dir.path().join("outside"), "o").unwrap();
        std::os::unix::fs::symlink("../../outside", ctx.join("sub/escape")).unwrap();
        std::fs::write(ctx.join(".dockerignore"), "secret\n*.txt\n!b.txt\n").unwrap();
        let c = Context::open(&ctx).unwrap();
        assert_eq!(
            c.resolve("../../b.txt").unwrap(),
            ctx.canonicalize().unwrap().join("b.txt")
        );
        assert!(c
            .resolve("sub/escape")
            .unwrap_err()
            .to_string()
            .contains("outside"));
        assert!(c
            .resolve("secret")
            .unwrap_err()
            .to_string()
            .contains(".dockerignore"));
        let hits = c.glob("*.txt").unwrap();
        assert_eq!(hits.len(), 1, "a.txt is ignored, b.txt kept: {hits:?}");
    }
}
