//! The spec's hooks: programs the runtime runs at fixed points of the
//! lifecycle, each given the container's state JSON on stdin (what
//! engines use to set up networking, GPUs, registration…):
//!
//! - `prestart` (deprecated) and `createRuntime`: by the runtime, once the
//!   container's namespaces exist, before its init goes on (so a hook can
//!   configure the new network namespace at /proc/PID/ns/net);
//! - `createContainer`: by the init, in the container's namespaces, before
//!   pivot_root (the path is still the host's);
//! - `startContainer`: by the init after `start`, just before execve, the
//!   path inside the container;
//! - `poststart`: by the runtime once `start` has let the command go;
//! - `poststop`: by the runtime after `delete`.
//!
//! A failing hook before the command runs fails the operation; a failing
//! `poststart` or `poststop` only warns, as the runtime spec says.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use oci_spec::runtime::{Hook, Hooks, State};

/// The hook names, in lifecycle order (`features` lists them).
pub const NAMES: [&str; 6] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// The hooks of one point of the lifecycle.
pub fn of<'a>(hooks: Option<&'a Hooks>, name: &str) -> &'a [Hook] {
    let Some(h) = hooks else { return &[] };
    let list = match name {
        "prestart" => h.prestart(),
        "createRuntime" => h.create_runtime(),
        "createContainer" => h.create_container(),
        "startContainer" => h.start_container(),
        "poststart" => h.poststart(),
        _ => h.poststop(),
    };
    list.as_deref().unwrap_or(&[])
}

/// Run each hook in order with `state` on its stdin; the first that fails
/// (non-zero exit, or past its timeout) is the error.
pub fn run(hooks: &[Hook], name: &str, state: &State) -> anyhow::Result<()> {
    let json = serde_json::to_string(state)?;
    for h in hooks {
        run_one(h, &json).with_context(|| format!("{name} hook {}", h.path().display()))?;
    }
    Ok(())
}

/// [`run`] for the hooks whose failure only warns.
pub fn run_warn(hooks: &[Hook], name: &str, state: &State) {
    if let Err(e) = run(hooks, name, state) {
        let prog = crate::sys::program_name();
        crate::sys::journal::emit(&format!("{prog}: warning: {}\n", crate::sys::one_line(&e)));
    }
}

fn run_one(h: &Hook, state_json: &str) -> anyhow::Result<()> {
    let args = h.args().clone().unwrap_or_default();
    let mut cmd = Command::new(h.path());
    if let Some((argv0, rest)) = args.split_first() {
        use std::os::unix::process::CommandExt;
        cmd.arg0(argv0).args(rest);
    }
    cmd.env_clear();
    for kv in h.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .context("starting it")?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin may close it: not an error.
        let _ = stdin.write_all(state_json.as_bytes());
    }
    let deadline = h
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    let Some(deadline) = deadline else {
        let status = child.wait()?;
        if !status.success() {
            bail!("it ended with {status}");
        }
        return Ok(());
    };
    loop {
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                bail!("it ended with {status}");
            }
            return Ok(());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("it ran past its timeout of {}s", h.timeout().unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether the init itself runs hooks (and so needs the state from us).
pub fn in_container(hooks: Option<&Hooks>) -> bool {
    !of(hooks, "createContainer").is_empty() || !of(hooks, "startContainer").is_empty()
}
