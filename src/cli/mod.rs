//! The faces of wharf: the `wharf` command's subcommands (one file each),
//! and what the chapter binaries share (`lesson`).

pub mod build;
pub mod container;
pub mod doctor;
pub mod flags;
pub mod image;
pub mod inspect;
pub mod lab;
pub mod lesson;
pub mod network;
pub mod registry;
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
    /// The state root (default /var/lib/wharf; also $WHARF_ROOT).
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<std::path::PathBuf>,

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
    /// Make a one-layer image from a rootfs tar.
    Import(image::ImportArgs),
    /// Load images from a docker-archive or OCI layout (tar or directory).
    Load(image::LoadArgs),
    /// Save images to a docker-archive or OCI layout tar.
    Save(image::SaveArgs),
    /// List images.
    Images(image::ImagesArgs),
    /// Give an image another name: wharf tag SOURCE TARGET.
    Tag(image::TagArgs),
    /// Remove images (names, then what no other image uses).
    Rmi(image::RmiArgs),
    /// Show how an image was made, layer by layer.
    History(image::HistoryArgs),
    /// Image commands: inspect, prune, unpack, ls.
    Image(image::ImageArgs),
    /// What each layer of an image adds, changes and removes; wasted bytes.
    Layers(image::LayersArgs),
    /// Disk usage of images, layers, containers and volumes.
    Df(image::DfArgs),
    /// Pull an image from a registry: NAME[:TAG|@DIGEST].
    Pull(registry::TransferArgs),
    /// Push an image to a registry: NAME[:TAG].
    Push(registry::TransferArgs),
    /// Save credentials for a registry (containers auth.json).
    Login(registry::LoginArgs),
    /// Forget the credentials for a registry.
    Logout(registry::LogoutArgs),
    /// List a registry's repositories and tags: REGISTRY/TERM.
    Search(registry::SearchArgs),
    /// Build an image from a Dockerfile.
    Build(build::BuildArgs),
    /// Create and run a new container from an image.
    Run(container::RunArgs),
    /// Create a new container (its init waits for `start`).
    Create(container::CreateArgs),
    /// Start one or more created or stopped containers.
    Start(container::StartArgs),
    /// Stop one or more running containers.
    Stop(container::StopArgs),
    /// Restart one or more containers.
    Restart(container::StopArgs),
    /// Kill one or more running containers.
    Kill(container::KillArgs),
    /// Remove one or more containers.
    Rm(container::RmArgs),
    /// Block until containers stop, then print their exit codes.
    Wait(container::NamesArgs),
    /// List containers.
    Ps(container::PsArgs),
    /// Fetch the logs of a container.
    Logs(container::LogsArgs),
    /// Execute a command in a running container.
    Exec(container::ExecArgs),
    /// Pause all processes within one or more containers.
    Pause(container::NamesArgs),
    /// Unpause all processes within one or more containers.
    Unpause(container::NamesArgs),
    /// Copy files/folders between a container and the local filesystem.
    Cp(container::CpArgs),
    /// Inspect changes to files on a container's filesystem.
    Diff(container::OneArgs),
    /// Export a container's filesystem as a tar archive.
    Export(container::ExportArgs),
    /// Display the running processes of a container.
    Top(container::OneArgs),
    /// Display a reading of containers' resource usage.
    Stats(container::StatsArgs),
    /// Rename a container.
    Rename(container::RenameArgs),
    /// Make a new image from a container's changes.
    Commit(container::CommitArgs),
    /// Container commands: inspect, prune, ls.
    Container(container::ContainerArgs),
    /// System commands: prune.
    System(container::SystemArgs),
}

/// Run one `wharf` subcommand; the result is the process's exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    if let Some(root) = &cli.root {
        // Set before any thread exists; every command reads the root from here.
        std::env::set_var("WHARF_ROOT", root);
    }
    match cli.command {
        Command::Tour(a) => tour::run(a),
        Command::Rootfs(a) => rootfs::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Volume(a) => volume::run(a),
        Command::Network(a) => network::run(a),
        Command::Lab(a) => lab::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Reset(a) => reset::run(a),
        Command::Import(a) => image::import(a),
        Command::Load(a) => image::load(a),
        Command::Save(a) => image::save(a),
        Command::Images(a) => image::images(a),
        Command::Tag(a) => image::tag(a),
        Command::Rmi(a) => image::rmi(a),
        Command::History(a) => image::history(a),
        Command::Image(a) => image::image(a),
        Command::Layers(a) => image::layers(a),
        Command::Df(a) => image::df(a),
        Command::Pull(a) => registry::pull(a),
        Command::Push(a) => registry::push(a),
        Command::Login(a) => registry::login(a),
        Command::Logout(a) => registry::logout(a),
        Command::Search(a) => registry::search(a),
        Command::Build(a) => build::run(a),
        Command::Run(a) => container::run(a),
        Command::Create(a) => container::create(a),
        Command::Start(a) => container::start(a),
        Command::Stop(a) => container::stop(a),
        Command::Restart(a) => container::restart(a),
        Command::Kill(a) => container::kill(a),
        Command::Rm(a) => container::rm(a),
        Command::Wait(a) => container::wait(a),
        Command::Ps(a) => container::ps(a),
        Command::Logs(a) => container::logs(a),
        Command::Exec(a) => container::exec(a),
        Command::Pause(a) => container::pause(a, true),
        Command::Unpause(a) => container::pause(a, false),
        Command::Cp(a) => container::cp(a),
        Command::Diff(a) => container::diff(a),
        Command::Export(a) => container::export(a),
        Command::Top(a) => container::top(a),
        Command::Stats(a) => container::stats(a),
        Command::Rename(a) => container::rename(a),
        Command::Commit(a) => container::commit(a),
        Command::Container(a) => container::container(a),
        Command::System(a) => container::system(a),
    }
}
