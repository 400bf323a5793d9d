//! `wharf lab` (stub: being written).

use clap::Args;

#[derive(Debug, Args)]
pub struct LabArgs {}

pub fn run(_args: LabArgs) -> anyhow::Result<i32> {
    anyhow::bail!("wharf lab is not written yet")
}
