//! Root filesystems: building one from the host's programs, entering it
//! with chroot (chapter 01) or pivot_root (chapter 02), and running the
//! container's command in it.

pub mod chroot;
pub mod exec;
pub mod pivot;

/// The rootfs a chapter runs in: the one given with `--rootfs` (which must
/// exist), or the built-in one, created on first use.
pub fn choose(given: Option<&std::path::Path>) -> anyhow::Result<std::path::PathBuf> {
    match given {
        Some(dir) => {
            crate::ns::run::check_rootfs(dir)?;
            Ok(dir.to_path_buf())
        }
        None => ensure_builtin(),
    }
}

mod create;
mod elf;
pub use create::{create, ensure_builtin, CreateOptions, CreateReport, Source, DEFAULT_PROGRAMS};
