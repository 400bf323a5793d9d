//! The last step of every chapter: find the command inside the new root
//! and `execve` it, so it replaces our process (and, in a new pid
//! namespace, becomes PID 1).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::sys::{self, ExitCode};

/// The PATH a container starts with, as Docker sets it.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The environment the command gets: a clean one, not the host's.
pub fn default_env(hostname: Option<&str>) -> Vec<String> {
    let mut env = vec![
        format!("PATH={DEFAULT_PATH}"),
        "HOME=/root".to_string(),
        "TERM=xterm".to_string(),
    ];
    if let Some(h) = hostname {
        env.push(format!("HOSTNAME={h}"));
    }
    env
}

/// Look `name` up the way a shell does: as a path if it has a slash,
/// otherwise in each PATH directory — resolved inside the current root.
pub fn resolve(name: &str) -> Result<PathBuf, ExitCode> {
    let is_exec = |p: &Path| {
        p.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if name.contains('/') {
        let p = PathBuf::from(name);
        return match p.exists() {
            true if is_exec(&p) => Ok(p),
            true => Err(ExitCode(
                126,
                format!("{name}: permission denied: not an executable file"),
            )),
            false => Err(not_found(name)),
        };
    }
    DEFAULT_PATH
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| is_exec(p))
        .ok_or_else(|| not_found(name))
}

fn not_found(name: &str) -> ExitCode {
    ExitCode(
        127,
        format!("{name}: command not found in the container's root (searched PATH={DEFAULT_PATH})"),
    )
}

/// What the command must not inherit from us: ignored signals, a blocked
/// mask, and open descriptors beyond 0–2.
pub fn clean_slate() -> Result<(), sys::SysError> {
    sys::reset_signals("every signal back to its default and none blocked, so the command starts as if from a fresh init")?;
    sys::cloexec_from_3(
        "no descriptor beyond stdin, stdout and stderr may cross into the container",
    )
}

/// Replace this process with `cmd`. Returns only on failure.
pub fn exec(cmd: &[String], env: &[String]) -> anyhow::Error {
    let Some(first) = cmd.first() else {
        return anyhow::anyhow!("no command given: add one after `--`, e.g. `-- /bin/sh`");
    };
    let path = match resolve(first) {
        Ok(p) => p,
        Err(e) => return e.into(),
    };
    if let Err(e) = clean_slate() {
        return e.into();
    }
    let err = sys::execve(
        &path,
        cmd,
        env,
        "replace this process with the container's command; its pid, namespaces and root stay",
    );
    let code = if err.errno == nix::errno::Errno::ENOENT {
        127
    } else {
        126
    };
    ExitCode(code, format!("{first}: {err}")).into()
}
