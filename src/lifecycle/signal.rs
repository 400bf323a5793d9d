//! Signals by name, as `kill -s`, `--stop-signal` and an image's
//! StopSignal give them: `TERM`, `SIGTERM` or `15`.

use std::str::FromStr;

use nix::sys::signal::Signal;

pub fn parse(s: &str) -> anyhow::Result<Signal> {
    let bad =
        || anyhow::anyhow!("unknown signal {s:?}: give a name like TERM or KILL, or a number");
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| bad());
    }
    let name = s.to_ascii_uppercase();
    let name = match name.starts_with("SIG") {
        true => name,
        false => format!("SIG{name}"),
    };
    Signal::from_str(&name).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse("term").unwrap(), Signal::SIGTERM);
        assert_eq!(parse("SIGKILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse("2").unwrap(), Signal::SIGINT);
        assert!(parse("NOPE").is_err());
    }
}
