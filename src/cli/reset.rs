//! `wharf reset` (stub: being written).

use clap::Args;

#[derive(Debug, Args)]
pub struct ResetArgs {}

pub fn run(_args: ResetArgs) -> anyhow::Result<i32> {
    anyhow::bail!("wharf reset is not written yet")
}
