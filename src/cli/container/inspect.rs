//! `wharf container inspect`: a container in Docker's JSON shape — Id,
//! Created, Path, Args, State, Image, Name, RestartCount, HostConfig,
//! Config, GraphDriver (the overlay's dirs: what `commit` reads).

use serde_json::{json, Value};

use crate::lifecycle::view::{self, State};
use crate::lifecycle::{clock, Record};

pub fn json(rec: &Record) -> Value {
    let v = view::of(rec);
    let s = &v.status;
    let lowers: Vec<String> = rec
        .lower_dirs
        .iter()
        .rev()
        .map(|p| p.display().to_string())
        .collect();
    json!({
        "Id": rec.id,
        "Created": clock::rfc3339(rec.created),
        "Path": rec.path,
        "Args": rec.args,
        "State": {
            "Status": v.state.name(),
            "Running": matches!(v.state, State::Running | State::Paused),
            "Paused": v.state == State::Paused,
            "Restarting": v.state == State::Restarting,
            "OOMKilled": s.oom_killed,
            "Dead": v.state == State::Dead,
            "Pid": if v.state.live() { s.pid } else { 0 },
            "ExitCode": v.exit_code(),
            "Error": s.error,
            "StartedAt": clock::rfc3339(s.started_at),
            "FinishedAt": clock::rfc3339(s.finished_at),
        },
        "Image": rec.image_id,
        "ResolvConfPath": rec.lower_dirs.last().map(|d| d.join("etc/resolv.conf")),
        "HostnamePath": rec.lower_dirs.last().map(|d| d.join("etc/hostname")),
        "HostsPath": rec.lower_dirs.last().map(|d| d.join("etc/hosts")),
        "LogPath": rec.log_path,
        "Name": format!("/{}", rec.name),
        "RestartCount": s.restart_count,
        "Driver": "overlay2",
        "HostConfig": {
            "AutoRemove": rec.auto_remove,
            "RestartPolicy": {
                "Name": rec.restart.name(),
                "MaximumRetryCount": match rec.restart {
                    crate::lifecycle::Restart::OnFailure(n) => n,
                    _ => 0,
                },
            },
            "NetworkMode": rec.network,
            "Memory": rec.memory,
            "NanoCpus": rec.nano_cpus,
            "PidsLimit": rec.pids_limit,
            "CapAdd": rec.cap_add,
            "CapDrop": rec.cap_drop,
            "SecurityOpt": rec.security_opt,
            "Privileged": rec.privileged,
            "Init": rec.init,
            "ReadonlyRootfs": rec.read_only,
            "Tmpfs": rec.mounts.iter().filter(|m| m.kind == "tmpfs").map(|m| {
                (m.destination.to_string_lossy().into_owned(), m.options.join(","))
            }).collect::<std::collections::BTreeMap<_, _>>(),
            "LogConfig": {"Type": "json-file", "Config": {
                "max-size": rec.log_max_size.to_string(),
                "max-file": rec.log_max_files.to_string(),
            }},
        },
        "GraphDriver": {
            "Name": "overlay2",
            "Data": {
                "LowerDir": lowers.join(":"),
                "UpperDir": rec.upper_dir,
                "WorkDir": rec.work_dir,
                "MergedDir": rec.merged_dir,
            },
        },
        // Docker lists binds and volumes here; a tmpfs only in HostConfig.
        "Mounts": rec.mounts.iter().filter(|m| m.kind != "tmpfs").map(|m| serde_json::json!({
            "Type": m.kind,
            "Name": m.volume,
            "Source": m.source,
            "Destination": m.destination,
            "RW": !m.read_only,
        })).collect::<Vec<_>>(),
        "Config": {
            "Hostname": rec.hostname,
            "User": rec.user,
            "OpenStdin": rec.open_stdin,
            "Tty": false,
            "Env": rec.env,
            "Cmd": rec.args,
            "Image": rec.image,
            "WorkingDir": rec.cwd,
            "Entrypoint": [rec.path.clone()],
            "StopSignal": rec.stop_signal,
        },
        "ImageDigest": rec.image_digest,
    })
}

pub fn inspect(names: &[String]) -> anyhow::Result<i32> {
    let all = names
        .iter()
        .map(|n| crate::lifecycle::find(n).map(|r| json(&r)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    println!("{}", serde_json::to_string_pretty(&all)?);
    Ok(0)
}
