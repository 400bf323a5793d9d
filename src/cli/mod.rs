//! The faces of wharf: the `wharf` command's subcommands (one file each),
//! and what the chapter binaries share (`lesson`).

pub mod doctor;
pub mod flags;
pub mod inspect;
pub mod lab;
pub mod lesson;
pub mod network;
pub mod reset;
pub mod rootfs;
pub mod tour;
pub mod union_demo;
pub mod volume;

use clap::{Parser, Subcommand};

/// wharf: learn how Linux containers work by building one.
#[derive(Debug, Parser)]
#[command(name = "wharf", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// A guided tour: chapters 01-04 on the built-in rootfs, explained.
    Tour(tour::TourArgs),
    /// Build a root filesystem from the host's own programs.
    Rootfs(rootfs::RootfsArgs),
    /// Print the kernel's view of a running process: ns, mounts or cgroup.
    Inspect(inspect::InspectArgs),
    /// Named volumes: create, ls, inspect, rm.
    Volume(volume::VolumeArgs),
    /// Networks for chapter 09's containers: create, ls, inspect, rm.
    Network(network::NetworkArgs),
    /// The labs: list, check, hint, watch.
    Lab(lab::LabArgs),
    /// Check this host for what wharf and the labs need.
    Doctor(doctor::DoctorArgs),
    /// Remove everything wharf made on this host (mounts, cgroups, state).
    Reset(reset::ResetArgs),
}

/// Run one `wharf` subcommand; the result is the process's exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Tour(a) => tour::run(a),
        Command::Rootfs(a) => rootfs::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Volume(a) => volume::run(a),
        Command::Network(a) => network::run(a),
        Command::Lab(a) => lab::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Reset(a) => reset::run(a),
    }
}
