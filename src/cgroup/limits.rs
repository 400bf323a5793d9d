//! The limits a learner asks for on the command line, checked before any
//! cgroup exists: `--cpus 0.5`, `--cpu-quota/--cpu-period`, `--memory 64m`,
//! `--pids-limit 32`.

use anyhow::bail;

/// The kernel's CFS bandwidth bounds: a period from 1 ms to 1 s, and a
/// quota of at least 1 ms (smaller ones are refused with EINVAL).
const MIN_US: u64 = 1_000;
const MAX_PERIOD_US: u64 = 1_000_000;
const DEFAULT_PERIOD_US: u64 = 100_000;

/// Resource limits, as given (strings, as on the command line). Values are parsed by [`LimitArgs::parse`] so
/// a bad one gives a single error line.
#[derive(Debug, Clone, Default)]
pub struct LimitArgs {
    /// CPUs' worth of time the container may use, e.g. 0.5 = half of one CPU.
    pub cpus: Option<String>,

    /// CPU time allowed per period, in microseconds (instead of --cpus).
    pub cpu_quota: Option<String>,

    /// The length of one CFS period, in microseconds (default 100000).
    pub cpu_period: Option<String>,

    /// Memory limit: bytes, or a number with k, m or g (64m, 512k, 1g).
    pub memory: Option<String>,

    /// The most tasks (processes and threads) the container may have.
    pub pids_limit: Option<String>,
}

/// CFS bandwidth: `quota_us` of CPU time in every `period_us`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuMax {
    pub quota_us: u64,
    pub period_us: u64,
}

impl CpuMax {
    /// How many CPUs' worth this is: 20000/100000 = 0.2.
    pub fn cpus(&self) -> f64 {
        self.quota_us as f64 / self.period_us as f64
    }
}

/// Checked limits; `None` leaves that resource unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub cpu: Option<CpuMax>,
    pub memory: Option<u64>,
    pub pids: Option<u64>,
    /// linux.resources.cpu.shares: the cgroup's CPU weight against its
    /// siblings when the CPUs are busy (v1 cpu.shares, 1024 = one share).
    pub cpu_shares: Option<u64>,
    /// linux.resources.cpu.cpus / mems: which CPUs and memory nodes.
    pub cpuset: super::cpuset::Cpuset,
}

impl LimitArgs {
    /// Whether any limit was given on the command line.
    pub fn given(&self) -> bool {
        [
            &self.cpus,
            &self.cpu_quota,
            &self.cpu_period,
            &self.memory,
            &self.pids_limit,
        ]
        .iter()
        .any(|f| f.is_some())
    }

    /// Check every flag and turn them into [`Limits`].
    pub fn parse(&self) -> anyhow::Result<Limits> {
        Ok(Limits {
            cpu: self.cpu()?,
            memory: self
                .memory
                .as_deref()
                .map(|m| flag("--memory", m, parse_size))
                .transpose()?,
            pids: self
                .pids_limit
                .as_deref()
                .map(|p| flag("--pids-limit", p, parse_pids))
                .transpose()?,
            ..Limits::default()
        })
    }

    fn cpu(&self) -> anyhow::Result<Option<CpuMax>> {
        let period = match self.cpu_period.as_deref() {
            Some(p) => flag("--cpu-period", p, parse_period)?,
            None => DEFAULT_PERIOD_US,
        };
        let quota_us = match (self.cpus.as_deref(), self.cpu_quota.as_deref()) {
            (Some(_), Some(_)) => {
                bail!("--cpus and --cpu-quota both set the CPU quota: give only one")
            }
            (Some(c), None) => flag("--cpus", c, |c| cpus_to_quota(c, period))?,
            (None, Some(q)) => flag("--cpu-quota", q, parse_quota)?,
            (None, None) if self.cpu_period.is_some() => {
                bail!("--cpu-period needs --cpus or --cpu-quota: a period alone limits nothing")
            }
            (None, None) => return Ok(None),
        };
        Ok(Some(CpuMax {
            quota_us,
            period_us: period,
        }))
    }
}

/// Run a value parser and name the flag and value in its error.
fn flag<T>(
    name: &str,
    value: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> anyhow::Result<T> {
    parse(value).map_err(|why| anyhow::anyhow!("bad {name} {value:?}: {why}"))
}

/// `0.5` CPUs with a 100 ms period is 50 ms of CPU time per period.
fn cpus_to_quota(text: &str, period_us: u64) -> Result<u64, String> {
    let cpus: f64 = text
        .trim()
        .parse()
        .map_err(|_| "not a number: use e.g. 0.5 or 2".to_string())?;
    if !cpus.is_finite() || cpus <= 0.0 {
        return Err("must be more than 0: use e.g. 0.5 for half of one CPU".into());
    }
    let quota = (cpus * period_us as f64).round() as u64;
    if quota < MIN_US {
        return Err(format!(
            "too small: the kernel needs a quota of at least {MIN_US}us per period, here {}",
            cpus_text(MIN_US, period_us)
        ));
    }
    Ok(quota)
}

fn cpus_text(quota: u64, period: u64) -> String {
    format!("{} CPUs", quota as f64 / period as f64)
}

fn parse_quota(text: &str) -> Result<u64, String> {
    let q = parse_u64(text, "microseconds of CPU time per period, e.g. 50000")?;
    if q < MIN_US {
        return Err(format!("the kernel needs at least {MIN_US} microseconds"));
    }
    Ok(q)
}

fn parse_period(text: &str) -> Result<u64, String> {
    let p = parse_u64(text, "microseconds, e.g. 100000")?;
    if !(MIN_US..=MAX_PERIOD_US).contains(&p) {
        return Err(format!(
            "the kernel accepts {MIN_US} to {MAX_PERIOD_US} microseconds"
        ));
    }
    Ok(p)
}

fn parse_pids(text: &str) -> Result<u64, String> {
    let n = parse_u64(text, "a whole number of tasks, e.g. 64")?;
    if n == 0 {
        return Err("must be at least 1: the container's own first process counts".into());
    }
    Ok(n)
}

fn parse_u64(text: &str, what: &str) -> Result<u64, String> {
    text.trim().parse().map_err(|_| format!("expected {what}"))
}

/// `64m`, `512k`, `1g`, `1G`, `64MiB`, `64mb` or plain bytes; binary units
/// (k = 1024), as docker reads them.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| "expected a number of bytes, or one with k, m or g (e.g. 64m)".to_string())?;
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => {
            return Err(format!(
                "unknown unit {unit:?}: use k, m or g (e.g. 64m, 512k, 1g) or plain bytes"
            ))
        }
    };
    let bytes = n.checked_mul(1 << shift).ok_or("too large")?;
    if bytes == 0 {
        return Err("must be more than 0 bytes".into());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> LimitArgs {
        LimitArgs::default()
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("8388608"), Ok(8 << 20));
        assert!(parse_size("12XB")
            .unwrap_err()
            .contains("unknown unit \"XB\""));
        assert!(parse_size("-1").is_err());
        assert!(parse_size("0m").unwrap_err().contains("more than 0"));
        assert!(parse_size("99999999999g").is_err());
    }

    #[test]
    fn cpus_become_quota_over_period() {
        let a = LimitArgs {
            cpus: Some("0.5".into()),
            ..args()
        };
        assert_eq!(
            a.parse().unwrap().cpu,
            Some(CpuMax {
                quota_us: 50_000,
                period_us: 100_000
            })
        );
        let a = LimitArgs {
            cpus: Some("2".into()),
            cpu_period: Some("50000".into()),
            ..args()
        };
        assert_eq!(
            a.parse().unwrap().cpu,
            Some(CpuMax {
                quota_us: 100_000,
                period_us: 50_000
            })
        );
        let a = LimitArgs {
            cpu_quota: Some("20000".into()),
            ..args()
        };
        assert_eq!(a.parse().unwrap().cpu.unwrap().cpus(), 0.2);
    }

    #[test]
    fn bad_cpu_flags_are_named() {
        let err = |a: LimitArgs| a.parse().unwrap_err().to_string();
        assert!(err(LimitArgs {
            cpus: Some("-1".into()),
            ..args()
        })
        .starts_with("bad --cpus \"-1\": must be more than 0"));
        assert!(err(LimitArgs {
            cpus: Some("abc".into()),
            ..args()
        })
        .contains("not a number"));
        assert!(err(LimitArgs {
            cpus: Some("0.001".into()),
            ..args()
        })
        .contains("at least 1000us"));
        assert!(err(LimitArgs {
            cpus: Some("1".into()),
            cpu_quota: Some("1000".into()),
            ..args()
        })
        .contains("give only one"));
        assert!(err(LimitArgs {
            cpu_period: Some("100".into()),
            cpus: Some("1".into()),
            ..args()
        })
        .contains("1000 to 1000000"));
        assert!(err(LimitArgs {
            cpu_period: Some("100000".into()),
            ..args()
        })
        .contains("period alone"));
        assert!(err(LimitArgs {
            pids_limit: Some("0".into()),
            ..args()
        })
        .contains("at least 1"));
        assert!(err(LimitArgs {
            pids_limit: Some("lots".into()),
            ..args()
        })
        .contains("whole number"));
    }

    #[test]
    fn no_flags_no_limits() {
        assert_eq!(args().parse().unwrap(), Limits::default());
    }
}
