//! `wharf tour` (stub: being written).

use clap::Args;

#[derive(Debug, Args)]
pub struct TourArgs {}

pub fn run(_args: TourArgs) -> anyhow::Result<i32> {
    anyhow::bail!("wharf tour is not written yet")
}
