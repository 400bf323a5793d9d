//! The command-line form of the mechanism's inputs. clap belongs to the
//! faces (DESIGN.md): each type here is a set of flags that a chapter or a
//! `wharf` subcommand flattens into its own, and converts into the plain
//! struct or enum the mechanism takes.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use crate::cgroup::{self, demo::Demo, LimitArgs};
use crate::container::{OciSpec as Spec, SpecBuilder};
use crate::ns::Namespaces;
use crate::probe::View;
use crate::rootfs::Source;
use crate::security::{caps, devices, seccomp};
use crate::union::{Driver, LayerArgs};

/// Which new namespaces the container gets. With no flag given: all but
/// user (as Docker does).
#[derive(Debug, Clone, Default, Args)]
pub struct NamespaceFlags {
    /// New pid namespace: the command becomes PID 1.
    #[arg(long)]
    pub pid: bool,
    /// New UTS namespace: a hostname of its own.
    #[arg(long)]
    pub uts: bool,
    /// New IPC namespace: its own SysV IPC and POSIX message queues.
    #[arg(long)]
    pub ipc: bool,
    /// New network namespace: only a loopback device, down.
    #[arg(long)]
    pub net: bool,
    /// New mount namespace: mounts of its own (needed for pivot_root).
    #[arg(long)]
    pub mount: bool,
    /// New user namespace: root inside maps to an unprivileged uid outside.
    #[arg(long)]
    pub user: bool,
    /// New cgroup namespace: /proc/self/cgroup shows its cgroup as /.
    #[arg(long)]
    pub cgroup: bool,
}

/// `--escape-demo`, in the chapters that build their container step by
/// step (02 and 04): an OCI spec has no way to say it, so the chapters
/// built from a spec do not take it.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct EscapeDemoFlag {
    /// From inside, once the root is set up, try chapter 01's chroot escape
    /// and report where it lands.
    #[arg(long)]
    pub escape_demo: bool,
}

impl From<&NamespaceFlags> for Namespaces {
    fn from(f: &NamespaceFlags) -> Namespaces {
        Namespaces {
            pid: f.pid,
            uts: f.uts,
            ipc: f.ipc,
            net: f.net,
            mount: f.mount,
            user: f.user,
            cgroup: f.cgroup,
            escape_demo: false,
        }
    }
}

impl NamespaceFlags {
    /// The namespaces these flags ask for.
    pub fn ns(&self) -> Namespaces {
        self.into()
    }

    /// The same, with chapter 01's escape tried from inside if asked.
    pub fn ns_with(&self, escape: EscapeDemoFlag) -> Namespaces {
        Namespaces {
            escape_demo: escape.escape_demo,
            ..self.ns()
        }
    }
}

/// How a container's root is assembled from its layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum DriverFlag {
    /// overlayfs: the layers are shared, only changes are stored.
    #[default]
    Overlay,
    /// A full copy of every layer per container (Docker's vfs).
    Copy,
}

impl From<DriverFlag> for Driver {
    fn from(d: DriverFlag) -> Driver {
        match d {
            DriverFlag::Overlay => Driver::Overlay,
            DriverFlag::Copy => Driver::Copy,
        }
    }
}

/// The flags a chapter uses to choose layers and a driver.
#[derive(Debug, Clone, Default, Args)]
pub struct LayerFlags {
    /// A read-only layer directory; repeat it, lowest layer first.
    #[arg(long = "layer", value_name = "DIR", conflicts_with = "layers")]
    pub layer: Vec<PathBuf>,

    /// A directory whose subdirectories are the layers, lowest first in name order.
    #[arg(long, value_name = "DIR")]
    pub layers: Option<PathBuf>,

    /// An image in wharf's store (`wharf images`): its unpacked layers
    /// are the lower layers.
    #[arg(long, value_name = "NAME[:TAG]", conflicts_with_all = ["layer", "layers"])]
    pub image: Option<String>,

    /// How to assemble the root from the layers.
    #[arg(long, value_enum, default_value_t)]
    pub driver: DriverFlag,

    /// Keep the container's directory (its upper dir or copy) after it exits.
    #[arg(long)]
    pub keep: bool,

    /// Name the container's directory (default: 12 random hex digits).
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
}

impl LayerFlags {
    /// The layers as the mechanism takes them: with `--image`, the image's
    /// unpacked layers from the store stand in for `--layer`s.
    pub fn resolved(&self) -> anyhow::Result<LayerArgs> {
        let mut args = self.layers();
        if let Some(name) = &self.image {
            args.layer = crate::image::tags::layer_dirs(name)?;
        }
        Ok(args)
    }

    /// The lower layers, lowest first; the built-in rootfs when none given.
    pub fn lowers(&self) -> anyhow::Result<Vec<PathBuf>> {
        self.resolved()?.lowers(|| crate::rootfs::choose(None))
    }
}

impl From<&LayerFlags> for LayerArgs {
    fn from(f: &LayerFlags) -> LayerArgs {
        LayerArgs {
            layer: f.layer.clone(),
            layers: f.layers.clone(),
            driver: f.driver.into(),
            keep: f.keep,
            id: f.id.clone(),
        }
    }
}

impl LayerFlags {
    /// The layers and driver these flags ask for.
    pub fn layers(&self) -> LayerArgs {
        self.into()
    }
}

/// Resource limits, as flags. Values are parsed by [`LimitArgs::parse`] so
/// a bad one gives a single error line.
#[derive(Debug, Clone, Default, Args)]
pub struct LimitFlags {
    /// CPUs' worth of time the container may use, e.g. 0.5 = half of one CPU.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub cpus: Option<String>,

    /// CPU time allowed per period, in microseconds (instead of --cpus).
    #[arg(long, value_name = "USEC", allow_negative_numbers = true)]
    pub cpu_quota: Option<String>,

    /// The length of one CFS period, in microseconds (default 100000).
    #[arg(long, value_name = "USEC", allow_negative_numbers = true)]
    pub cpu_period: Option<String>,

    /// Memory limit: bytes, or a number with k, m or g (64m, 512k, 1g).
    #[arg(long, value_name = "SIZE", allow_negative_numbers = true)]
    pub memory: Option<String>,

    /// The most tasks (processes and threads) the container may have.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub pids_limit: Option<String>,
}

impl From<&LimitFlags> for LimitArgs {
    fn from(f: &LimitFlags) -> LimitArgs {
        LimitArgs {
            cpus: f.cpus.clone(),
            cpu_quota: f.cpu_quota.clone(),
            cpu_period: f.cpu_period.clone(),
            memory: f.memory.clone(),
            pids_limit: f.pids_limit.clone(),
        }
    }
}

impl LimitFlags {
    /// The limits as given, still to be checked by [`LimitArgs::parse`].
    pub fn limits(&self) -> LimitArgs {
        self.into()
    }
}

/// `exec PID -- CMD`: enter a running container, as `docker exec` does.
/// Chapter 04 adds it, and every chapter after it keeps it.
#[derive(Debug, Clone, Subcommand)]
pub enum ExecFlags {
    /// Run CMD inside the running container PID: its cgroups, namespaces
    /// and root (chapter 03's exec, plus the cgroups).
    Exec {
        pid: i32,
        #[arg(last = true, required = true, value_name = "CMD")]
        cmd: Vec<String>,
    },
}

impl From<&ExecFlags> for cgroup::Exec {
    fn from(f: &ExecFlags) -> cgroup::Exec {
        let ExecFlags::Exec { pid, cmd } = f;
        cgroup::Exec {
            pid: *pid,
            cmd: cmd.clone(),
        }
    }
}

impl ExecFlags {
    /// Run it (see [`cgroup::Exec::run`]).
    pub fn run(&self, new_container_flags: bool) -> anyhow::Result<i32> {
        cgroup::Exec::from(self).run(new_container_flags)
    }
}

/// Which limit to run into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DemoFlag {
    /// A busy loop for 3 s: CFS bandwidth holds it near its CPU quota.
    Cpu,
    /// A fork bomb: forks fail with EAGAIN at the pids limit.
    Forkbomb,
    /// A memory hog (`tail /dev/zero` keeps a line with no end): the OOM killer stops it.
    Oom,
}

impl From<DemoFlag> for Demo {
    fn from(d: DemoFlag) -> Demo {
        match d {
            DemoFlag::Cpu => Demo::Cpu,
            DemoFlag::Forkbomb => Demo::Forkbomb,
            DemoFlag::Oom => Demo::Oom,
        }
    }
}

/// Which table to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ViewFlag {
    /// Namespaces: /proc/PID/ns/*.
    Ns,
    /// Mounts: /proc/PID/mountinfo.
    Mounts,
    /// Cgroups: /proc/PID/cgroup and the hierarchy's files.
    Cgroup,
    /// Network: links, addresses and routes (rtnetlink dumps).
    Net,
}

impl From<ViewFlag> for View {
    fn from(v: ViewFlag) -> View {
        match v {
            ViewFlag::Ns => View::Ns,
            ViewFlag::Mounts => View::Mounts,
            ViewFlag::Cgroup => View::Cgroup,
            ViewFlag::Net => View::Net,
        }
    }
}

/// Where the programs of a rootfs come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum SourceFlag {
    /// busybox when the host has it, the host's programs otherwise.
    #[default]
    Auto,
    /// The host's own programs and their libraries.
    Host,
    /// One busybox binary, with a symlink per command.
    Busybox,
}

impl From<SourceFlag> for Source {
    fn from(s: SourceFlag) -> Source {
        match s {
            SourceFlag::Auto => Source::Auto,
            SourceFlag::Host => Source::Host,
            SourceFlag::Busybox => Source::Busybox,
        }
    }
}

/// `--print-spec`, which every chapter from 02 on has: the OCI runtime
/// spec (the config.json runc reads) that the other flags describe.
#[derive(Debug, Clone, Default, Args)]
pub struct PrintSpecFlag {
    /// Print the OCI runtime spec (config.json) these flags describe, and
    /// exit without running anything.
    #[arg(long)]
    pub print_spec: bool,
}

impl PrintSpecFlag {
    /// Print the spec if asked: `Some(0)` to exit with, else `None`.
    pub fn print(
        &self,
        spec: impl FnOnce() -> anyhow::Result<Spec>,
    ) -> anyhow::Result<Option<i32>> {
        if !self.print_spec {
            return Ok(None);
        }
        println!("{}", crate::container::spec::to_json(&spec()?));
        Ok(Some(0))
    }
}

/// Chapter 08's hardening, as flags: Docker's defaults, and the switches
/// that turn each protection off to compare. Chapter 09 keeps them all.
#[derive(Debug, Clone, Args)]
pub struct HardeningFlags {
    /// Mount the container's root read-only.
    #[arg(long)]
    pub read_only: bool,

    /// Add a capability to Docker's default set (e.g. NET_ADMIN, or ALL).
    #[arg(long, value_name = "CAP")]
    pub cap_add: Vec<String>,

    /// Drop a capability from Docker's default set (e.g. NET_RAW, or ALL).
    #[arg(long, value_name = "CAP")]
    pub cap_drop: Vec<String>,

    /// `unconfined`: run without the seccomp filter, to compare.
    #[arg(long, value_name = "PROFILE", value_parser = ["default", "unconfined"], default_value = "default")]
    pub seccomp: String,

    /// Allow a device in the cgroup's device list: `c 1:11 rwm` (Docker's
    /// `--device-cgroup-rule`).
    #[arg(long, value_name = "RULE")]
    pub device_cgroup_rule: Vec<String>,

    /// `unconfined`: no masked or read-only /proc and /sys paths, as
    /// Docker's `--security-opt systempaths=unconfined`, to compare.
    #[arg(long, value_name = "PATHS", value_parser = ["default", "unconfined"], default_value = "default")]
    pub systempaths: String,

    /// `false`: let execve grant privileges again (setuid bits, file
    /// capabilities), to compare.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub no_new_privs: bool,

    /// Run a tiny reaping init as PID 1, with the command as its child: it
    /// passes signals on and reaps orphans (Docker's `--init`).
    #[arg(long)]
    pub init: bool,
}

impl HardeningFlags {
    /// The plain settings: a read-only root, the masked and read-only
    /// system paths, the init, and extra device rules.
    pub fn settings(&self, b: SpecBuilder) -> anyhow::Result<SpecBuilder> {
        let rules = self.device_cgroup_rule.iter();
        Ok(b.read_only(self.read_only)
            .system_paths(self.systempaths == "default")
            .init(self.init)
            .device_rules(
                rules
                    .map(|r| devices::parse_rule(r))
                    .collect::<anyhow::Result<_>>()?,
            ))
    }

    /// The settings plus what chapter 08 spells out step by step: the
    /// capability sets, no_new_privs and the seccomp filter.
    pub fn harden(&self, b: SpecBuilder) -> anyhow::Result<SpecBuilder> {
        Ok(self
            .settings(b)?
            .capabilities(caps::with_changes(&self.cap_add, &self.cap_drop)?)
            .no_new_privileges(self.no_new_privs)
            .seccomp((self.seccomp == "default").then(seccomp::docker_default)))
    }
}
