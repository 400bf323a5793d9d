//! `wharf inspect` (stub: being written).

use clap::Args;

#[derive(Debug, Args)]
pub struct InspectArgs {}

pub fn run(_args: InspectArgs) -> anyhow::Result<i32> {
    anyhow::bail!("wharf inspect is not written yet")
}
