//! From a spec to a plan: everything the child will do, worked out and
//! checked in the parent, so a bad spec is refused before any namespace,
//! cgroup or mount exists.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use nix::sched::CloneFlags;
use oci_spec::runtime::{
    LinuxCapabilities, LinuxDevice, LinuxDeviceCgroup, LinuxIdMapping, LinuxNamespaceType,
    LinuxResources, PosixRlimit, Spec,
};

use super::mounts::MountPlan;
use crate::cgroup::{CpuMax, Cpuset, Limits};
use crate::security::{dev, seccomp};

/// The command and who runs it.
#[derive(Debug, Clone)]
pub struct Process {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    /// None: keep every capability (a privileged container).
    pub caps: Option<LinuxCapabilities>,
    pub no_new_privs: bool,
    pub rlimits: Vec<PosixRlimit>,
    /// process.terminal: the command gets a pty as its stdio and
    /// controlling terminal; process.consoleSize (rows, columns).
    pub terminal: bool,
    pub console_size: Option<(u16, u16)>,
    /// process.oomScoreAdj, written to /proc/self/oom_score_adj.
    pub oom_score_adj: Option<i32>,
}

/// What `create` will build.
#[derive(Debug, Clone)]
pub struct Plan {
    pub root: PathBuf,
    pub readonly_root: bool,
    /// Namespaces the clone creates (a new cgroup namespace is made later,
    /// once the init is in its cgroup).
    pub new_ns: CloneFlags,
    pub new_cgroupns: bool,
    /// Namespaces to join, by path (`/proc/PID/ns/net`, a bind-mounted one).
    pub join: Vec<(CloneFlags, PathBuf)>,
    pub hostname: Option<String>,
    pub mounts: Vec<MountPlan>,
    pub process: Process,
    pub uid_map: Vec<LinuxIdMapping>,
    pub gid_map: Vec<LinuxIdMapping>,
    pub limits: Limits,
    pub masked: Vec<String>,
    pub readonly: Vec<String>,
    /// runc's six default nodes plus linux.devices, made in /dev.
    pub devices: Vec<LinuxDevice>,
    /// The seccomp filter, compiled here once; the init only installs it.
    pub seccomp: Option<seccomp::Compiled>,
    /// `--init`: the init stays PID 1 and reaps, the command is its child
    /// (the annotation [`super::reaper::ANNOTATION`]).
    pub reaper: bool,
    /// The device cgroup rules, in the order they take effect.
    pub device_rules: Vec<LinuxDeviceCgroup>,
    /// linux.sysctl: kernel parameters of the container's namespaces.
    pub sysctl: Vec<(String, String)>,
    /// The spec's hooks, run at the points of the lifecycle they name.
    pub hooks: Option<oci_spec::runtime::Hooks>,
    /// linux.cgroupsPath, below each hierarchy's root (relative paths are
    /// taken from the root too); None: `<host tag>/<id>`.
    pub cgroups_path: Option<PathBuf>,
    /// linux.rootfsPropagation, set on `/` once it is the container's.
    pub rootfs_propagation: Option<nix::mount::MsFlags>,
    /// The spec's annotations, which the state carries.
    pub annotations: std::collections::HashMap<String, String>,
}

/// The spec versions this runtime reads: 1.x, as runc does.
pub fn check_version(v: &str) -> anyhow::Result<()> {
    if v.split('.').next() != Some("1") {
        bail!(
            "ociVersion {v:?} is not supported: wharf-oci runs specs of version 1.x (it was built for {})",
            oci_spec::runtime::VERSION
        );
    }
    Ok(())
}

impl Plan {
    pub fn from_spec(spec: &Spec, bundle: &Path) -> anyhow::Result<Plan> {
        check_version(spec.version())?;
        let root = spec
            .root()
            .as_ref()
            .context("the spec has no root: set root.path to the container's root filesystem")?;
        let root_path = bundle.join(root.path());
        if !root_path.is_dir() {
            bail!("root.path {} is not a directory", root_path.display());
        }
        let linux = spec.linux().clone().unwrap_or_default();
        let (new_ns, new_cgroupns, join) = namespaces(&linux)?;
        let mounts = spec
            .mounts()
            .iter()
            .flatten()
            .map(MountPlan::from_spec)
            .collect::<anyhow::Result<_>>()?;
        let nodes = linux.devices().clone().unwrap_or_default();
        let spec_rules = linux
            .resources()
            .as_ref()
            .and_then(|r| r.devices().clone())
            .unwrap_or_default();
        let plan = Plan {
            device_rules: crate::security::devices::effective(&spec_rules, &nodes),
            sysctl: linux
                .sysctl()
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            hooks: spec.hooks().clone(),
            cgroups_path: cgroups_path(&linux)?,
            rootfs_propagation: match linux.rootfs_propagation() {
                None => None,
                Some(p) => Some(super::mounts::propagation(p).with_context(|| {
                    format!("linux.rootfsPropagation {p:?}: use private, slave, shared or unbindable (r… for recursive)")
                })?),
            },
            annotations: spec.annotations().clone().unwrap_or_default(),
            root: root_path
                .canonicalize()
                .with_context(|| format!("resolving {}", root_path.display()))?,
            readonly_root: root.readonly().unwrap_or(false),
            new_ns,
            new_cgroupns,
            join,
            hostname: spec.hostname().clone().filter(|h| !h.is_empty()),
            mounts,
            process: process(spec)?,
            uid_map: linux.uid_mappings().clone().unwrap_or_default(),
            gid_map: linux.gid_mappings().clone().unwrap_or_default(),
            limits: limits(linux.resources().as_ref())?,
            masked: linux.masked_paths().clone().unwrap_or_default(),
            readonly: linux.readonly_paths().clone().unwrap_or_default(),
            devices: [dev::default_devices(), nodes].concat(),
            seccomp: linux
                .seccomp()
                .as_ref()
                .map(seccomp::compile)
                .transpose()
                .context("compiling linux.seccomp")?,
            reaper: wants_reaper(spec)?,
        };
        plan.check()?;
        Ok(plan)
    }

    /// Whether the init has a mount namespace of its own (new or joined).
    /// Without one, every mount would land in the host's: the init then
    /// makes none and only chroots into the root, as chapter 02 does
    /// without CLONE_NEWNS.
    pub fn has_mount_ns(&self) -> bool {
        let ns = CloneFlags::CLONE_NEWNS;
        self.new_ns.contains(ns) || self.join.iter().any(|(f, _)| *f == ns)
    }

    /// Combinations the kernel would refuse half-way, refused up front.
    fn check(&self) -> anyhow::Result<()> {
        let has = |f| self.new_ns.contains(f) || self.join.iter().any(|(t, _)| *t == f);
        if self.hostname.is_some() && !has(CloneFlags::CLONE_NEWUTS) {
            bail!("the spec sets a hostname but no uts namespace: it would rename the host");
        }
        if self.new_ns.contains(CloneFlags::CLONE_NEWUSER) && self.uid_map.is_empty() {
            bail!("a new user namespace needs linux.uidMappings and linux.gidMappings");
        }
        Ok(())
    }
}

/// The reaper annotation: "true" or "false"; anything else is a mistake.
fn wants_reaper(spec: &Spec) -> anyhow::Result<bool> {
    let key = super::reaper::ANNOTATION;
    match spec.annotations().as_ref().and_then(|a| a.get(key)) {
        None => Ok(false),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(v) => bail!("annotation {key} is {v:?}: it must be \"true\" or \"false\""),
    }
}

fn cgroups_path(linux: &oci_spec::runtime::Linux) -> anyhow::Result<Option<PathBuf>> {
    let Some(p) = linux.cgroups_path() else {
        return Ok(None);
    };
    let rel: PathBuf = p
        .components()
        .filter(|c| matches!(c, std::path::Component::Normal(_)))
        .collect();
    if p.components().any(|c| c == std::path::Component::ParentDir) || rel.as_os_str().is_empty() {
        bail!(
            "linux.cgroupsPath {} must name a cgroup below the hierarchy's root, without ..",
            p.display()
        );
    }
    Ok(Some(rel))
}

fn ns_flag(t: LinuxNamespaceType) -> anyhow::Result<CloneFlags> {
    Ok(match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        other => bail!("namespace type {other:?} is not supported"),
    })
}

type Namespaces = (CloneFlags, bool, Vec<(CloneFlags, PathBuf)>);

fn namespaces(linux: &oci_spec::runtime::Linux) -> anyhow::Result<Namespaces> {
    let mut new = CloneFlags::empty();
    let mut cgroupns = false;
    let mut join = Vec::new();
    for ns in linux.namespaces().iter().flatten() {
        let flag = ns_flag(ns.typ())?;
        match ns.path() {
            Some(p) => {
                if !p.exists() {
                    bail!("namespace path {} does not exist", p.display());
                }
                join.push((flag, p.clone()));
            }
            None if flag == CloneFlags::CLONE_NEWCGROUP => cgroupns = true,
            None => new |= flag,
        }
    }
    Ok((new, cgroupns, join))
}

fn process(spec: &Spec) -> anyhow::Result<Process> {
    let p = spec
        .process()
        .as_ref()
        .context("the spec has no process: nothing to run")?;
    Process::from_oci(p)
}

impl Process {
    /// A spec's process (or `exec`'s process.json), checked.
    pub fn from_oci(p: &oci_spec::runtime::Process) -> anyhow::Result<Process> {
        process_of(p)
    }
}

fn process_of(p: &oci_spec::runtime::Process) -> anyhow::Result<Process> {
    let args = p.args().clone().unwrap_or_default();
    if args.is_empty() {
        bail!("process.args is empty: nothing to run");
    }
    if !p.cwd().is_absolute() {
        bail!("process.cwd {} is not absolute", p.cwd().display());
    }
    let user = p.user();
    Ok(Process {
        args,
        env: p.env().clone().unwrap_or_default(),
        cwd: p.cwd().clone(),
        uid: user.uid(),
        gid: user.gid(),
        groups: user.additional_gids().clone().unwrap_or_default(),
        caps: p.capabilities().clone(),
        no_new_privs: p.no_new_privileges().unwrap_or(false),
        rlimits: p.rlimits().clone().unwrap_or_default(),
        terminal: p.terminal().unwrap_or(false),
        console_size: p
            .console_size()
            .map(|b| (b.height() as u16, b.width() as u16)),
        oom_score_adj: p.oom_score_adj(),
    })
}

/// linux.resources → chapter 04's limits (cpu quota/period, memory, pids),
/// and cpu shares and the cpuset;
/// also what `update --resources` reads.
pub fn limits(res: Option<&LinuxResources>) -> anyhow::Result<Limits> {
    let Some(res) = res else {
        return Ok(Limits::default());
    };
    let cpu = res.cpu().as_ref().and_then(|c| {
        let quota = c.quota().filter(|q| *q > 0)?;
        Some(CpuMax {
            quota_us: quota as u64,
            period_us: c.period().unwrap_or(100_000),
        })
    });
    let memory = match res.memory().as_ref().and_then(|m| m.limit()) {
        Some(m) if m > 0 => Some(m as u64),
        Some(-1) | None => None,
        Some(m) => bail!("linux.resources.memory.limit {m} is not a size in bytes"),
    };
    let pids = match res.pids().as_ref().map(|p| p.limit()) {
        Some(p) if p > 0 => Some(p as u64),
        _ => None,
    };
    let cpu_spec = res.cpu().as_ref();
    let cpu_shares = cpu_spec.and_then(|c| c.shares()).filter(|s| *s > 0);
    let cpuset = Cpuset::from_spec(
        cpu_spec.and_then(|c| c.cpus().as_deref()),
        cpu_spec.and_then(|c| c.mems().as_deref()),
    )?;
    Ok(Limits {
        cpu,
        memory,
        pids,
        cpu_shares,
        cpuset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::SpecBuilder;

    fn bundle() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("rootfs")).unwrap();
        t
    }

    #[test]
    fn a_default_spec_plans_runc_s_namespaces_and_limits() {
        let b = bundle();
        let spec = SpecBuilder::new("rootfs", ["/bin/true"])
            .memory(64 << 20)
            .pids(32)
            .build();
        let plan = Plan::from_spec(&spec, b.path()).unwrap();
        assert!(plan.new_ns.contains(
            CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET
        ));
        assert!(!plan.new_ns.contains(CloneFlags::CLONE_NEWUSER));
        assert_eq!(plan.limits.memory, Some(64 << 20));
        assert_eq!(plan.limits.pids, Some(32));
        assert_eq!(plan.process.args, ["/bin/true"]);
    }

    #[test]
    fn cpu_shares_and_the_cpuset_become_limits() {
        let cpu: oci_spec::runtime::LinuxCpu = serde_json::from_value(serde_json::json!(
            { "shares": 2048, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "" }
        ))
        .unwrap();
        let res = oci_spec::runtime::LinuxResourcesBuilder::default()
            .cpu(cpu)
            .build()
            .unwrap();
        let l = limits(Some(&res)).unwrap();
        assert_eq!(l.cpu_shares, Some(2048));
        assert_eq!(l.cpuset.cpus.map(|c| c.to_string()).as_deref(), Some("0-1"));
        assert_eq!(l.cpuset.mems, None);
        assert_eq!(l.cpu.map(|c| c.quota_us), Some(50000));
    }

    #[test]
    fn a_spec_without_a_mount_namespace_plans_no_mount_namespace() {
        let b = bundle();
        let mut spec = SpecBuilder::new("rootfs", ["/bin/true"]).build();
        let mut linux = spec.linux().clone().unwrap();
        linux.set_namespaces(Some(Vec::new()));
        spec.set_linux(Some(linux));
        spec.set_hostname(None);
        let plan = Plan::from_spec(&spec, b.path()).unwrap();
        assert!(!plan.has_mount_ns());
        assert!(plan.new_ns.is_empty());
    }

    #[test]
    fn the_init_annotation_asks_for_the_reaper() {
        let b = bundle();
        let plan = |on| {
            let spec = SpecBuilder::new("rootfs", ["/bin/true"]).init(on).build();
            Plan::from_spec(&spec, b.path()).unwrap().reaper
        };
        assert!(plan(true));
        assert!(!plan(false));
        let spec = SpecBuilder::new("rootfs", ["/bin/true"])
            .init(true)
            .init(false)
            .build();
        assert!(spec.annotations().is_none(), "{:?}", spec.annotations());
    }

    #[test]
    fn bad_specs_are_refused_with_what_is_wrong() {
        let b = bundle();
        let mut cases: Vec<(Spec, &str)> = vec![
            (
                SpecBuilder::new("nope", ["/bin/true"]).build(),
                "is not a directory",
            ),
            (
                SpecBuilder::new("rootfs", Vec::<String>::new()).build(),
                "process.args is empty",
            ),
            (
                SpecBuilder::new("rootfs", ["/bin/true"])
                    .join("network", "/proc/self/ns/nope")
                    .build(),
                "does not exist",
            ),
            (
                SpecBuilder::new("rootfs", ["/bin/true"])
                    .mount("tmpfs", "relative/dir", "tmpfs", &[])
                    .build(),
                "not absolute",
            ),
        ];
        let mut odd = SpecBuilder::new("rootfs", ["/bin/true"]).build();
        odd.set_annotations(Some(
            [(
                crate::container::reaper::ANNOTATION.to_string(),
                "yes".to_string(),
            )]
            .into(),
        ));
        cases.push((odd, "it must be \"true\" or \"false\""));
        for (spec, want) in cases {
            let err = format!("{:#}", Plan::from_spec(&spec, b.path()).unwrap_err());
            assert!(err.contains(want), "{err:?} lacks {want:?}");
        }
    }
}
