//! The OCI runtime spec of a container: the image's config and the run
//! flags, through chapter 08's hardening. Starting from runc's defaults
//! (namespaces, /proc, /dev, /sys, masked paths), as chapter 08 does:
//! Docker's capability set with `--cap-add/--cap-drop`, Docker's seccomp
//! profile, no_new_privs on `--security-opt no-new-privileges`; and
//! `--privileged` turning all of that off (every capability, no filter,
//! nothing masked or read-only).

use anyhow::bail;
use oci_spec::runtime::{Spec, UserBuilder};

use super::user::Ids;
use super::Record;
use crate::container::SpecBuilder;
use crate::security::{caps, seccomp};

/// Docker's `--cpus`: a quota of this many CPUs per 100 ms period.
const CPU_PERIOD_US: u64 = 100_000;

/// The spec for `rec`, running as `ids`.
pub fn build(rec: &Record, ids: &Ids) -> anyhow::Result<Spec> {
    let args: Vec<String> = std::iter::once(rec.path.clone())
        .chain(rec.args.clone())
        .collect();
    let (mut seccomp_on, mut no_new_privs) = (!rec.privileged, false);
    for opt in &rec.security_opt {
        match opt.as_str() {
            "seccomp=unconfined" | "seccomp:unconfined" => seccomp_on = false,
            "no-new-privileges" | "no-new-privileges=true" | "no-new-privileges:true" => no_new_privs = true,
            other => bail!(
                "invalid --security-opt {other:?}: wharf knows seccomp=unconfined and no-new-privileges"
            ),
        }
    }
    let capabilities = match rec.privileged {
        true => caps::from_set(caps::all().into_iter().collect()),
        false => caps::with_changes(&rec.cap_add, &rec.cap_drop)?,
    };
    let mut ns = vec!["pid", "uts", "ipc", "mount", "network"];
    match rec.network.as_str() {
        "none" => {}
        "host" => ns.retain(|n| *n != "network"),
        other => bail!("network {other:?} is not supported by wharf run yet: use none or host"),
    }
    let mut b = SpecBuilder::new(&rec.merged_dir, args)
        .namespaces(&ns)
        .hostname(Some(&rec.hostname))
        .env(rec.env.clone())
        .capabilities(capabilities)
        .seccomp(seccomp_on.then(seccomp::docker_default))
        .no_new_privileges(no_new_privs)
        .system_paths(!rec.privileged)
        .read_only(rec.read_only)
        .init(rec.init);
    if rec.memory > 0 {
        b = b.memory(rec.memory);
    }
    if rec.pids_limit > 0 {
        b = b.pids(rec.pids_limit);
    }
    if rec.nano_cpus > 0 {
        let quota = (rec.nano_cpus as i128 * CPU_PERIOD_US as i128 / 1_000_000_000) as i64;
        b = b.cpu(quota, CPU_PERIOD_US);
    }
    let mut spec = super::volumes::add_to_spec(b, &rec.mounts).build();
    if let Some(p) = spec.process_mut() {
        p.set_cwd(rec.cwd.clone().into());
        p.set_user(
            UserBuilder::default()
                .uid(ids.uid)
                .gid(ids.gid)
                .additional_gids(ids.groups.clone())
                .build()?,
        );
    }
    Ok(spec)
}
