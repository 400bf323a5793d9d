//! `wharf volume` (stub: being written).

use clap::Args;

#[derive(Debug, Args)]
pub struct VolumeArgs {}

pub fn run(_args: VolumeArgs) -> anyhow::Result<i32> {
    anyhow::bail!("wharf volume is not written yet")
}
