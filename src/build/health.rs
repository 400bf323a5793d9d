//! HEALTHCHECK, stored in the config the way Docker stores it: `Test`
//! (`["CMD", …]`, `["CMD-SHELL", "…"]` or `["NONE"]`) and the durations in
//! nanoseconds. The OCI config has no such field; Docker, podman and
//! buildah read it from there.

use anyhow::{bail, Context};
use parse_dockerfile::{Command, HealthcheckArguments, HealthcheckInstruction};
use serde_json::{json, Value};

pub fn healthcheck(h: &HealthcheckInstruction, shell: &[String]) -> anyhow::Result<Value> {
    let test: Vec<String> = match &h.arguments {
        HealthcheckArguments::None { .. } => return Ok(json!({ "Test": ["NONE"] })),
        HealthcheckArguments::Cmd {
            arguments: Command::Exec(w),
            ..
        } => std::iter::once("CMD".to_string())
            .chain(w.value.iter().map(|s| s.value.to_string()))
            .collect(),
        HealthcheckArguments::Cmd { arguments: c, .. } => {
            let mut argv = super::dockerfile::command(c, shell);
            vec!["CMD-SHELL".into(), argv.pop().unwrap_or_default()]
        }
        _ => bail!("HEALTHCHECK: a form this builder does not know"),
    };
    let mut check = json!({ "Test": test });
    let known = [
        "interval",
        "timeout",
        "start-period",
        "start-interval",
        "retries",
    ];
    for (k, v) in super::dockerfile::flags(&h.options, &known, "HEALTHCHECK")? {
        let (field, value) = match k {
            "retries" => (
                "Retries",
                json!(v.parse::<u64>().with_context(|| format!("--retries={v}"))?),
            ),
            "interval" => ("Interval", json!(nanos(v)?)),
            "timeout" => ("Timeout", json!(nanos(v)?)),
            "start-period" => ("StartPeriod", json!(nanos(v)?)),
            _ => ("StartInterval", json!(nanos(v)?)),
        };
        check[field] = value;
    }
    Ok(check)
}

/// Go's duration syntax (`30s`, `1m30s`, `500ms`) in nanoseconds.
fn nanos(s: &str) -> anyhow::Result<u64> {
    let (mut total, mut rest) = (0f64, s);
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..n]
            .parse()
            .with_context(|| format!("{s:?} is not a duration like 30s"))?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            other => bail!("{s:?}: unknown unit {other:?} (use ns, us, ms, s, m or h)"),
        };
        total += value * unit;
        rest = &rest[u..];
    }
    Ok(total as u64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_like_go() {
        assert_eq!(super::nanos("1m30s").unwrap(), 90_000_000_000);
        assert_eq!(super::nanos("500ms").unwrap(), 500_000_000);
        assert!(super::nanos("5 parsecs").is_err());
    }
}
