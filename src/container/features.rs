//! `features`: what this runtime implements, as the JSON document runc
//! 1.1 introduced (runtime-spec's features.md), so an engine can ask
//! instead of guessing. Each list is read from the code that does the
//! work: the namespaces the plan knows, the mount options it parses, the
//! capabilities it can set, the seccomp actions and operators it compiles.

use serde_json::{json, Value};

use super::{hooks, mounts};
use crate::security::caps;

/// The oldest spec version whose configs we run.
const OCI_MIN: &str = "1.0.0";

pub fn features() -> Value {
    let namespaces = ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"];
    let capabilities: Vec<String> = caps::all()
        .into_iter()
        .filter_map(|c| serde_json::to_value(c).ok())
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    json!({
        "ociVersionMin": OCI_MIN,
        "ociVersionMax": oci_spec::runtime::VERSION,
        "hooks": hooks::NAMES,
        "mountOptions": mounts::OPTIONS,
        "linux": {
            "namespaces": namespaces,
            "capabilities": capabilities,
            "cgroup": { "v1": true, "v2": true, "systemd": false, "systemdUser": false },
            "seccomp": {
                "enabled": true,
                "actions": [
                    "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD",
                    "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"
                ],
                "operators": [
                    "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
                    "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"
                ],
                "archs": ["SCMP_ARCH_X86_64"]
            },
            "apparmor": { "enabled": false },
            "selinux": { "enabled": false }
        },
        "annotations": {
            "org.opencontainers.runtime-spec.features.version": oci_spec::runtime::VERSION
        }
    })
}
