//! A small builder over the OCI runtime spec, for the chapters and the
//! tests: start from runc's defaults (the namespaces, mounts, masked and
//! read-only paths of `runc spec`) and change what a lesson's flags say.
//! `--print-spec` prints what it builds: the config.json of the lesson.

use std::path::{Path, PathBuf};

use anyhow::Context;
use oci_spec::runtime::{
    LinuxBuilder, LinuxCpuBuilder, LinuxIdMapping, LinuxIdMappingBuilder, LinuxMemoryBuilder,
    LinuxNamespace, LinuxNamespaceBuilder, LinuxNamespaceType, LinuxPidsBuilder,
    LinuxResourcesBuilder, Mount, MountBuilder, RootBuilder, Spec,
};

use crate::cgroup::Limits;
use crate::ns::{idmap, Namespaces};

pub struct SpecBuilder {
    spec: Spec,
}

/// The flags chapters 02–08 share, in plain form.
#[derive(Debug, Clone, Default)]
pub struct ChapterFlags<'a> {
    pub ns: Namespaces,
    pub hostname: Option<&'a str>,
    pub limits: Limits,
}

fn ns_type(name: &str) -> LinuxNamespaceType {
    match name {
        "pid" => LinuxNamespaceType::Pid,
        "network" | "net" => LinuxNamespaceType::Network,
        "ipc" => LinuxNamespaceType::Ipc,
        "uts" => LinuxNamespaceType::Uts,
        "user" => LinuxNamespaceType::User,
        "cgroup" => LinuxNamespaceType::Cgroup,
        _ => LinuxNamespaceType::Mount,
    }
}

impl SpecBuilder {
    /// runc's default spec, with this root and command.
    pub fn new<S: Into<String>>(
        root: impl Into<PathBuf>,
        args: impl IntoIterator<Item = S>,
    ) -> SpecBuilder {
        let mut spec = Spec::default();
        spec.set_hostname(None);
        spec.set_root(Some(
            RootBuilder::default()
                .path(root.into())
                .readonly(false)
                .build()
                .expect("root"),
        ));
        if let Some(p) = spec.process_mut() {
            p.set_args(Some(args.into_iter().map(Into::into).collect()));
        }
        SpecBuilder { spec }
    }

    /// The container of chapters 02–07: runc's default spec with the
    /// chapter's flags, without the hardening that chapter 08 adds. The
    /// process keeps every capability root has, no seccomp filter,
    /// no_new_privs off, no rlimits, nothing masked or read-only; the only
    /// mount is /proc, and only with a new pid namespace (the rootfs brings
    /// its own /dev, as in chapter 01).
    pub fn unhardened<S: Into<String>>(
        root: impl Into<PathBuf>,
        args: impl IntoIterator<Item = S>,
        flags: &ChapterFlags,
    ) -> SpecBuilder {
        let mut b = SpecBuilder::new(root, args);
        if let Some(p) = b.spec.process_mut() {
            p.set_capabilities(None);
            p.set_no_new_privileges(None);
            p.set_rlimits(None);
        }
        let linux = b.linux();
        linux.set_masked_paths(None);
        linux.set_readonly_paths(None);
        linux.set_seccomp(None);
        // runc's default device rules (deny all but a few) belong to the
        // hardening too.
        linux.set_resources(None);
        b.spec.set_mounts(Some(Vec::new()));
        let b = b.chapter(flags);
        match flags.ns.effective().pid {
            true => b.mount("proc", "/proc", "proc", &["nosuid", "noexec", "nodev"]),
            false => b,
        }
    }

    /// What a chapter's flags say: its namespaces, hostname (also in the
    /// environment, as chapter 01's shell shows it) and cgroup limits.
    pub fn chapter(self, flags: &ChapterFlags) -> Self {
        self.namespaces_of(&flags.ns)
            .hostname(flags.hostname)
            .limits(&flags.limits)
            .env(crate::rootfs::exec::default_env(flags.hostname))
    }

    /// The new namespaces a chapter's flags chose (chapter 02's default
    /// set when none was), and for a user namespace the id maps that
    /// chapter 02 writes: root inside is uid 100000 outside.
    pub fn namespaces_of(self, ns: &Namespaces) -> Self {
        let e = ns.effective();
        let names: Vec<&str> = [
            (e.pid, "pid"),
            (e.uts, "uts"),
            (e.ipc, "ipc"),
            (e.net, "network"),
            (e.mount, "mount"),
            (e.user, "user"),
            (e.cgroup, "cgroup"),
        ]
        .into_iter()
        .filter_map(|(on, n)| on.then_some(n))
        .collect();
        let mut b = self.namespaces(&names);
        if e.user {
            let map = vec![id_map(0, idmap::HOST_BASE, idmap::RANGE)];
            b.linux().set_uid_mappings(Some(map.clone()));
            b.linux().set_gid_mappings(Some(map));
        }
        b
    }

    /// linux.resources from chapter 04's limits: cpu quota/period, memory,
    /// pids.
    pub fn limits(mut self, l: &Limits) -> Self {
        if let Some(m) = l.memory {
            self = self.memory(m as i64);
        }
        if let Some(p) = l.pids {
            self = self.pids(p as i64);
        }
        if let Some(c) = &l.cpu {
            self = self.cpu(c.quota_us as i64, c.period_us);
        }
        self
    }

    pub fn hostname(mut self, h: Option<&str>) -> Self {
        self.spec.set_hostname(h.map(str::to_string));
        self
    }

    /// Exactly these new namespaces (`pid`, `network`, `ipc`, `uts`,
    /// `mount`, `user`, `cgroup`), replacing the defaults.
    pub fn namespaces(mut self, names: &[&str]) -> Self {
        let list: Vec<LinuxNamespace> = names
            .iter()
            .map(|n| {
                LinuxNamespaceBuilder::default()
                    .typ(ns_type(n))
                    .build()
                    .expect("namespace")
            })
            .collect();
        self.linux().set_namespaces(Some(list));
        self
    }

    /// Join the namespace at `path` instead of creating one of that type.
    pub fn join(mut self, name: &str, path: impl AsRef<Path>) -> Self {
        let typ = ns_type(name);
        let mut list = self.linux().namespaces().clone().unwrap_or_default();
        list.retain(|n| n.typ() != typ);
        list.push(
            LinuxNamespaceBuilder::default()
                .typ(typ)
                .path(path.as_ref())
                .build()
                .expect("namespace"),
        );
        self.linux().set_namespaces(Some(list));
        self
    }

    pub fn mount(mut self, source: &str, dest: &str, typ: &str, options: &[&str]) -> Self {
        let m: Mount = MountBuilder::default()
            .source(source)
            .destination(dest)
            .typ(typ)
            .options(options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .build()
            .expect("mount");
        self.spec.mounts_mut().get_or_insert_with(Vec::new).push(m);
        self
    }

    pub fn memory(mut self, bytes: i64) -> Self {
        let mem = LinuxMemoryBuilder::default()
            .limit(bytes)
            .build()
            .expect("memory");
        self.resources(|r| r.set_memory(Some(mem)));
        self
    }

    pub fn pids(mut self, n: i64) -> Self {
        let pids = LinuxPidsBuilder::default().limit(n).build().expect("pids");
        self.resources(|r| r.set_pids(Some(pids)));
        self
    }

    pub fn cpu(mut self, quota_us: i64, period_us: u64) -> Self {
        let cpu = LinuxCpuBuilder::default()
            .quota(quota_us)
            .period(period_us)
            .build()
            .expect("cpu");
        self.resources(|r| r.set_cpu(Some(cpu)));
        self
    }

    /// linux.resources.devices: more allow rules for the device cgroup, as
    /// Docker's `--device-cgroup-rule` adds them.
    pub fn device_rules(mut self, rules: Vec<oci_spec::runtime::LinuxDeviceCgroup>) -> Self {
        if !rules.is_empty() {
            self.resources(|r| {
                let mut all = r.devices().clone().unwrap_or_default();
                all.extend(rules);
                r.set_devices(Some(all))
            });
        }
        self
    }

    /// root.readonly: the root mount read-only.
    pub fn read_only(mut self, ro: bool) -> Self {
        if let Some(r) = self.spec.root_mut() {
            r.set_readonly(Some(ro));
        }
        self
    }

    /// process.capabilities: the five sets of the container's process.
    pub fn capabilities(mut self, caps: oci_spec::runtime::LinuxCapabilities) -> Self {
        if let Some(p) = self.spec.process_mut() {
            p.set_capabilities(Some(caps));
        }
        self
    }

    /// linux.seccomp: the syscall filter (None: unconfined).
    pub fn seccomp(mut self, profile: Option<oci_spec::runtime::LinuxSeccomp>) -> Self {
        self.linux().set_seccomp(profile);
        self
    }

    /// process.noNewPrivileges (runc's default: true).
    pub fn no_new_privileges(mut self, on: bool) -> Self {
        if let Some(p) = self.spec.process_mut() {
            p.set_no_new_privileges(Some(on));
        }
        self
    }

    /// false: no masked and no read-only paths, as Docker's `--security-opt
    /// systempaths=unconfined` (true keeps runc's default lists).
    pub fn system_paths(mut self, confined: bool) -> Self {
        if !confined {
            let linux = self.linux();
            linux.set_masked_paths(None);
            linux.set_readonly_paths(None);
        }
        self
    }

    /// `--init`: the annotation that makes the init a reaping PID 1 and the
    /// command its child (see [`super::reaper`]).
    pub fn init(mut self, on: bool) -> Self {
        let notes = self
            .spec
            .annotations_mut()
            .get_or_insert_with(Default::default);
        if on {
            notes.insert(super::reaper::ANNOTATION.into(), "true".into());
        } else {
            notes.remove(super::reaper::ANNOTATION);
        }
        if notes.is_empty() {
            self.spec.set_annotations(None);
        }
        self
    }

    pub fn env(mut self, env: Vec<String>) -> Self {
        if let Some(p) = self.spec.process_mut() {
            p.set_env(Some(env));
        }
        self
    }

    /// `spec --rootless`, as runc writes it: a user namespace mapping
    /// only `uid`/`gid` (as root inside), no network namespace (making
    /// one's devices needs real root), /sys bound from the host (a new
    /// sysfs needs a network namespace of one's own), no cgroup mount and
    /// no devpts group (gid 5 is not mapped).
    pub fn rootless(mut self, uid: u32, gid: u32) -> Self {
        use oci_spec::runtime::LinuxIdMappingBuilder;
        let map = |host: u32| {
            vec![LinuxIdMappingBuilder::default()
                .container_id(0u32)
                .host_id(host)
                .size(1u32)
                .build()
                .expect("id mapping")]
        };
        let linux = self.linux();
        let mut ns = linux.namespaces().clone().unwrap_or_default();
        ns.retain(|n| n.typ() != LinuxNamespaceType::Network);
        ns.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::User)
                .build()
                .expect("namespace"),
        );
        linux.set_namespaces(Some(ns));
        linux.set_uid_mappings(Some(map(uid)));
        linux.set_gid_mappings(Some(map(gid)));
        linux.set_resources(None);
        let mut mounts = self.spec.mounts().clone().unwrap_or_default();
        mounts.retain(|m| m.typ().as_deref() != Some("cgroup"));
        for m in &mut mounts {
            if m.typ().as_deref() == Some("devpts") {
                let opts: Vec<String> = m
                    .options()
                    .iter()
                    .flatten()
                    .filter(|o| !o.starts_with("gid="))
                    .cloned()
                    .collect();
                m.set_options(Some(opts));
            }
            if m.typ().as_deref() == Some("sysfs") {
                *m = MountBuilder::default()
                    .source("/sys")
                    .destination("/sys")
                    .typ("none")
                    .options(
                        ["rbind", "nosuid", "noexec", "nodev", "ro"]
                            .map(String::from)
                            .to_vec(),
                    )
                    .build()
                    .expect("mount");
            }
        }
        self.spec.set_mounts(Some(mounts));
        self
    }

    pub fn build(self) -> Spec {
        self.spec
    }

    fn linux(&mut self) -> &mut oci_spec::runtime::Linux {
        self.spec
            .linux_mut()
            .get_or_insert_with(|| LinuxBuilder::default().build().expect("linux"))
    }

    fn resources(
        &mut self,
        f: impl FnOnce(&mut oci_spec::runtime::LinuxResources) -> &mut oci_spec::runtime::LinuxResources,
    ) {
        let linux = self.linux();
        let res = linux
            .resources_mut()
            .get_or_insert_with(|| LinuxResourcesBuilder::default().build().expect("resources"));
        f(res);
    }
}

fn id_map(inside: u32, outside: u32, size: u32) -> LinuxIdMapping {
    LinuxIdMappingBuilder::default()
        .container_id(inside)
        .host_id(outside)
        .size(size)
        .build()
        .expect("id mapping")
}

/// A bundle's config.json, with one line saying what is wrong if it is not
/// a spec.
pub fn load_bundle(bundle: &Path) -> anyhow::Result<Spec> {
    let path = bundle.join("config.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not an OCI runtime spec", path.display()))
}

/// The spec as config.json text, as `--print-spec` shows it. oci-spec
/// keeps each capability set in a hash set, whose order changes from run
/// to run: the sets are printed sorted, so two prints of one spec are the
/// same text.
pub fn to_json(spec: &Spec) -> String {
    let mut v = serde_json::to_value(spec).expect("a spec serializes");
    if let Some(sets) = v
        .pointer_mut("/process/capabilities")
        .and_then(|c| c.as_object_mut())
    {
        for set in sets.values_mut().filter_map(|s| s.as_array_mut()) {
            set.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        }
    }
    serde_json::to_string_pretty(&v).expect("a spec serializes")
}
