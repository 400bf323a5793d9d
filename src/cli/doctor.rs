//! `wharf doctor` (stub: being written).

use clap::Args;

#[derive(Debug, Args)]
pub struct DoctorArgs {}

pub fn run(_args: DoctorArgs) -> anyhow::Result<i32> {
    anyhow::bail!("wharf doctor is not written yet")
}
