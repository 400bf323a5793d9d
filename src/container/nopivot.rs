//! `--no-pivot`: enter the root without pivot_root, for roots where the
//! kernel refuses it (a root on the initramfs, whose rootfs mount can
//! never be unmounted, so pivot_root returns EINVAL). The root is moved
//! over `/` with MS_MOVE and made the process's root with chroot. Weaker
//! than pivot_root: the host's old root is still mounted beneath, only out
//! of reach of paths — which is why runc, too, makes it opt-in.

use std::path::Path;

use nix::mount::MsFlags;

use crate::sys;

pub fn move_root(root: &Path) -> anyhow::Result<()> {
    sys::chdir(
        root,
        "work from the new root: MS_MOVE and chroot take it as \".\"",
    )?;
    sys::mount(
        Some(Path::new(".")),
        Path::new("/"),
        None,
        MsFlags::MS_MOVE,
        None,
        "--no-pivot: move the root's mount over / (the old root stays mounted beneath it)",
    )?;
    sys::chroot(
        Path::new("."),
        "--no-pivot: make it this process's root; paths can no longer reach the old one",
    )?;
    sys::chdir(Path::new("/"), "start from the new root")?;
    Ok(())
}
