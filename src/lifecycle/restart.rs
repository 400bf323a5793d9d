//! `--restart`: what the monitor does when the container's command ends —
//! `no`, `on-failure[:N]` (only a non-zero exit, at most N times), or
//! `always` (until `stop`, `kill` or `rm` says otherwise).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(try_from = "String", into = "String")]
pub enum Restart {
    #[default]
    No,
    /// At most this many restarts; 0 is no limit.
    OnFailure(u32),
    Always,
}

impl Restart {
    pub fn parse(text: &str) -> anyhow::Result<Restart> {
        let bad =
            || anyhow::anyhow!("invalid restart policy {text:?}: use no, on-failure[:N] or always");
        match text.split_once(':') {
            None if text == "no" => Ok(Restart::No),
            None if text == "always" => Ok(Restart::Always),
            None if text == "on-failure" => Ok(Restart::OnFailure(0)),
            Some(("on-failure", n)) => n.parse().map(Restart::OnFailure).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }

    /// Whether a command that ended with `code`, after `count` restarts,
    /// is started again. A container stopped by the user never is.
    pub fn again(self, code: i32, count: u32, stopped_by_user: bool) -> bool {
        match self {
            _ if stopped_by_user => false,
            Restart::No => false,
            Restart::Always => true,
            Restart::OnFailure(max) => code != 0 && (max == 0 || count < max),
        }
    }

    /// Docker's name: `no`, `on-failure`, `always`.
    pub fn name(self) -> &'static str {
        match self {
            Restart::No => "no",
            Restart::OnFailure(_) => "on-failure",
            Restart::Always => "always",
        }
    }
}

impl TryFrom<String> for Restart {
    type Error = anyhow::Error;
    fn try_from(s: String) -> anyhow::Result<Restart> {
        Restart::parse(&s)
    }
}

impl From<Restart> for String {
    fn from(r: Restart) -> String {
        match r {
            Restart::OnFailure(n) if n > 0 => format!("on-failure:{n}"),
            other => other.name().into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_and_decide() {
        assert_eq!(
            Restart::parse("on-failure:2").unwrap(),
            Restart::OnFailure(2)
        );
        assert!(Restart::parse("sometimes").is_err());
        assert!(Restart::parse("on-failure:x").is_err());
        let p = Restart::OnFailure(2);
        assert!(p.again(1, 0, false) && p.again(1, 1, false));
        assert!(!p.again(1, 2, false) && !p.again(0, 0, false));
        assert!(!Restart::Always.again(0, 9, true));
        assert_eq!(String::from(p), "on-failure:2");
    }
}
