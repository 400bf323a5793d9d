//! `wharf rootfs` (stub: being written).

use clap::Args;

#[derive(Debug, Args)]
pub struct RootfsArgs {}

pub fn run(_args: RootfsArgs) -> anyhow::Result<i32> {
    anyhow::bail!("wharf rootfs is not written yet")
}
