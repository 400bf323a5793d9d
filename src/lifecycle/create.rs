//! `wharf create` (and the first half of `run`): from an image and the run
//! flags to a container whose init waits for `start`, held by its monitor.
//!
//! In order — each step undone again if a later one fails, so a refused
//! run leaves nothing behind:
//! 1. find the image in the store; its layers (by ChainID) are the
//!    overlay's lower dirs (chapter 05);
//! 2. claim the name (the name table's atomic symlink) and make the
//!    container's directory, named by a fresh 64-hex id;
//! 3. the init layer with /etc/hostname, hosts, resolv.conf (chapter 07);
//! 4. mount the overlay at `<dir>/merged`, in the host's mount namespace,
//!    where it stays until `rm` (so `cp`, `diff`, `export` and `commit`
//!    see the container's root while it is stopped);
//! 5. resolve the user in the image's own /etc/passwd and /etc/group;
//! 6. write the record and the OCI spec (`<dir>/config.json`: the
//!    directory is the container's bundle);
//! 7. start the monitor, which creates the container through the OCI
//!    runtime.

use std::path::PathBuf;

use anyhow::{bail, Context};

use super::restart::Restart;
use super::{clock, ids, monitor, names, record, spec, user, volumes, Record};
use crate::container::ContainerDir;
use crate::image::{store, tags, Store};
use crate::union::{Driver, Mounted, Rootfs};

/// Docker's json-file default in wharf: a 10 MiB live file and one rotated.
const LOG_MAX_SIZE: u64 = 10 << 20;
const LOG_MAX_FILES: u32 = 2;

/// What `run`/`create` were asked, in plain form.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub image: String,
    pub cmd: Vec<String>,
    pub name: Option<String>,
    /// `-e`: `K=V`, or `K` to pass our own value on.
    pub env: Vec<String>,
    pub env_files: Vec<PathBuf>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub entrypoint: Option<String>,
    pub interactive: bool,
    pub auto_remove: bool,
    pub memory: i64,
    pub nano_cpus: i64,
    pub pids_limit: i64,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub privileged: bool,
    pub init: bool,
    pub read_only: bool,
    pub restart: Restart,
    pub network: String,
    /// 0: [`LOG_MAX_SIZE`].
    pub log_max_size: u64,
    pub log_max_files: u32,
    /// `-v` flags, as given.
    pub volumes: Vec<String>,
    /// `--tmpfs DEST[:OPTIONS]`.
    pub tmpfs: Vec<String>,
    /// `--mount type=…,source=…,target=…`.
    pub mounts: Vec<String>,
    /// `--volumes-from CONTAINER[:ro|rw]`.
    pub volumes_from: Vec<String>,
}

/// Undo a half-made container: unmount, remove its directory, free its name.
struct Undo {
    name: Option<(String, String)>,
    /// The volumes taken, and the id that took them.
    mounts: Option<(Vec<volumes::ContainerMount>, String)>,
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some((mounts, id)) = self.mounts.take() {
            let _ = volumes::detach(&mounts, &id, true);
        }
        if let Some((name, id)) = self.name.take() {
            names::release(&name, &id);
        }
    }
}

/// Create the container; with `start`, the monitor starts it too.
pub fn create(opts: &Options, start: bool) -> anyhow::Result<Record> {
    let store = Store::open(&crate::paths::state_root(), store::Lock::Shared)?;
    let image = tags::resolve(&store, &opts.image).map_err(|_| {
        anyhow::anyhow!(
            "Unable to find image '{}' locally (wharf does not pull: load or import it first)",
            opts.image
        )
    })?;
    let chains = crate::image::digest::chain_ids(&image.diff_ids()?);
    if chains.is_empty() {
        bail!(
            "image {} has no layers: there is no root filesystem to run",
            opts.image
        );
    }
    let lowers: Vec<PathBuf> = chains.iter().map(|c| store.layer_dir(c)).collect();
    drop(store);
    let config = image.config.config().clone().unwrap_or_default();
    let (path, args) = command(
        opts,
        config.entrypoint().as_deref(),
        config.cmd().as_deref(),
    )?;
    let env = environment(opts, config.env().as_deref().unwrap_or_default())?;
    let planned = volumes::plan(&opts.volumes, &opts.tmpfs, &opts.mounts, &opts.volumes_from)?;

    let id = ids::new()?;
    let mut undo = Undo {
        name: None,
        mounts: None,
    };
    let name = match &opts.name {
        Some(n) => {
            names::claim(n, &id)?;
            n.clone()
        }
        None => names::claim_generated(&id)?,
    };
    undo.name = Some((name.clone(), id.clone()));
    let dir = ContainerDir::create(Some(&id))?;
    let hostname = opts
        .hostname
        .clone()
        .unwrap_or_else(|| id[..12].to_string());
    let init = crate::volume::initlayer::create(&dir.path, &hostname, &lowers)?;
    let all: Vec<PathBuf> = lowers.iter().cloned().chain([init]).collect();
    let rootfs = Rootfs::prepare(Driver::Overlay, &all, &dir.path)?;
    let mounted = Mounted::new(&rootfs)?;
    let user_spec = opts
        .user
        .clone()
        .or_else(|| config.user().clone())
        .unwrap_or_default();
    let who = user::resolve(&rootfs.root(), &user_spec)?;
    let mut env = env;
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!(
            "HOME={}",
            who.home.clone().unwrap_or_else(|| "/".into())
        ));
    }
    env.push(format!("HOSTNAME={hostname}"));
    let mounts = volumes::attach(&planned, &id)?;
    undo.mounts = Some((mounts.clone(), id.clone()));
    let rec = Record {
        id: id.clone(),
        name,
        created: clock::now_ns(),
        image: opts.image.clone(),
        image_id: image.id().to_string(),
        image_digest: image.manifest_digest.to_string(),
        path,
        args,
        env,
        cwd: opts
            .workdir
            .clone()
            .or_else(|| config.working_dir().clone().filter(|w| !w.is_empty()))
            .unwrap_or_else(|| "/".into()),
        user: user_spec,
        hostname,
        open_stdin: opts.interactive,
        stop_signal: config
            .stop_signal()
            .clone()
            .unwrap_or_else(|| "SIGTERM".into()),
        restart: opts.restart,
        auto_remove: opts.auto_remove,
        memory: opts.memory,
        pids_limit: opts.pids_limit,
        nano_cpus: opts.nano_cpus,
        init: opts.init,
        read_only: opts.read_only,
        cap_add: opts.cap_add.clone(),
        cap_drop: opts.cap_drop.clone(),
        security_opt: opts.security_opt.clone(),
        privileged: opts.privileged,
        network: if opts.network.is_empty() {
            "none".into()
        } else {
            opts.network.clone()
        },
        lower_dirs: all,
        upper_dir: rootfs.changes(),
        work_dir: dir.path.join("work"),
        merged_dir: rootfs.root(),
        log_path: dir.path.join("container.log"),
        log_max_size: if opts.log_max_size > 0 {
            opts.log_max_size
        } else {
            LOG_MAX_SIZE
        },
        log_max_files: if opts.log_max_files > 0 {
            opts.log_max_files
        } else {
            LOG_MAX_FILES
        },
        mounts,
    };
    let oci = spec::build(&rec, &who)?;
    std::fs::write(
        dir.path.join("config.json"),
        crate::container::spec::to_json(&oci),
    )
    .context("writing the container's config.json")?;
    record::save(&rec)?;
    monitor::spawn(&dir.path, start)?;
    // The container stands: its mount, directory and name stay.
    std::mem::forget(mounted);
    let mut dir = dir;
    dir.keep(true);
    undo.name = None;
    undo.mounts = None;
    Ok(rec)
}

/// The command, as Docker puts it together: the entrypoint (the image's,
/// or `--entrypoint`, which also drops the image's cmd), then the command
/// line given, or else the image's cmd.
fn command(
    opts: &Options,
    entrypoint: Option<&[String]>,
    cmd: Option<&[String]>,
) -> anyhow::Result<(String, Vec<String>)> {
    let entry: Vec<String> = match &opts.entrypoint {
        Some(e) if e.is_empty() => Vec::new(),
        Some(e) => vec![e.clone()],
        None => entrypoint.unwrap_or_default().to_vec(),
    };
    let rest: Vec<String> = match (opts.cmd.is_empty(), &opts.entrypoint) {
        (false, _) => opts.cmd.clone(),
        (true, Some(_)) => Vec::new(),
        (true, None) => cmd.unwrap_or_default().to_vec(),
    };
    let mut all = entry.into_iter().chain(rest);
    match all.next() {
        Some(path) => Ok((path, all.collect())),
        None => bail!(
            "no command specified: the image has no Cmd or Entrypoint, so give one after the image"
        ),
    }
}

/// The image's environment, then `--env-file`s, then `-e`s; a later
/// value of a key replaces an earlier one.
fn environment(opts: &Options, image: &[String]) -> anyhow::Result<Vec<String>> {
    let mut given = Vec::new();
    for f in &opts.env_files {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("--env-file {}: cannot read it", f.display()))?;
        given.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from),
        );
    }
    given.extend(opts.env.iter().cloned());
    let mut env: Vec<String> = image.to_vec();
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, format!("PATH={}", crate::rootfs::exec::DEFAULT_PATH));
    }
    for e in given {
        let kv = match e.split_once('=') {
            Some(_) => e,
            // `-e NAME`: our own value, or nothing if we have none.
            None => match std::env::var(&e) {
                Ok(v) => format!("{e}={v}"),
                Err(_) => continue,
            },
        };
        let key = kv.split('=').next().unwrap_or_default().to_string();
        if key.is_empty() {
            bail!("invalid environment variable {kv:?}: the name is empty");
        }
        env.retain(|x| x.split('=').next() != Some(key.as_str()));
        env.push(kv);
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn the_command_is_entrypoint_then_cmd_as_docker_builds_it() {
        let mut o = Options::default();
        let ep = s(&["/init"]);
        let cmd = s(&["serve", "-v"]);
        assert_eq!(
            command(&o, Some(&ep), Some(&cmd)).unwrap(),
            ("/init".into(), s(&["serve", "-v"]))
        );
        o.cmd = s(&["echo", "hi"]);
        assert_eq!(
            command(&o, None, Some(&cmd)).unwrap(),
            ("echo".into(), s(&["hi"]))
        );
        o.cmd.clear();
        o.entrypoint = Some("/bin/sh".into());
        assert_eq!(
            command(&o, Some(&ep), Some(&cmd)).unwrap(),
            ("/bin/sh".into(), vec![])
        );
        assert!(command(&Options::default(), None, None).is_err());
    }

    #[test]
    fn later_env_values_win() {
        let o = Options {
            env: s(&["A=2", "B=x"]),
            ..Default::default()
        };
        let env = environment(&o, &s(&["PATH=/bin", "A=1"])).unwrap();
        assert_eq!(env, s(&["PATH=/bin", "A=2", "B=x"]));
    }
}
