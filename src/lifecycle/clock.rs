//! Time as Docker shows it: RFC 3339 with nanoseconds in UTC for records
//! and log lines (`2026-12-03T16:32:19.123456789Z`), and "5 seconds ago"
//! for tables. Kept in unix nanoseconds on disk.

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the epoch, now.
pub fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// `ns` as RFC 3339 in UTC; 0 (never) is Docker's zero time. The
/// calendar is the image store's ([`crate::image::time`]); the
/// nanoseconds are ours.
pub fn rfc3339(ns: i128) -> String {
    if ns <= 0 {
        return "0001-01-01T00:00:00Z".into();
    }
    let secs = crate::image::time::rfc3339((ns / 1_000_000_000) as i64);
    format!("{}.{:09}Z", secs.trim_end_matches('Z'), ns % 1_000_000_000)
}

/// Parse what [`rfc3339`] writes (and the same without fractions), or a
/// plain number of unix seconds, as `docker logs --since` takes.
pub fn parse(text: &str) -> Option<i128> {
    if let Ok(secs) = text.parse::<i64>() {
        return Some(secs as i128 * 1_000_000_000);
    }
    let secs = crate::image::time::parse_rfc3339(text)?;
    let frac = text
        .split_once('.')
        .map(|(_, f)| f.trim_end_matches('Z'))
        .unwrap_or("");
    let nanos: i128 = match frac {
        "" => 0,
        f => format!("{f:0<9}").get(..9)?.parse().ok()?,
    };
    Some(secs as i128 * 1_000_000_000 + nanos)
}

/// Docker's "how long ago" for the CREATED column: `5 seconds ago`.
pub fn ago(ns: i128) -> String {
    format!("{} ago", human(now_ns() - ns))
}

/// A duration as Docker words it in STATUS: `Less than a second`,
/// `5 seconds`, `About a minute`, `3 minutes`, `About an hour`, `2 hours`, `4 days`.
pub fn human(ns: i128) -> String {
    let s = (ns / 1_000_000_000).max(0);
    match s {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        2..=59 => format!("{s} seconds"),
        60..=119 => "About a minute".into(),
        120..=3599 => format!("{} minutes", s / 60),
        3600..=7199 => "About an hour".into(),
        7200..=172_799 => format!("{} hours", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_and_knows_leap_days() {
        // 2024-02-29T12:34:56.000000789Z
        let ns = 1_709_210_096_000_000_789;
        assert_eq!(rfc3339(ns), "2024-02-29T12:34:56.000000789Z");
        assert_eq!(parse(&rfc3339(ns)), Some(ns));
        assert_eq!(parse("2024-02-29T12:34:56Z"), Some(ns - 789));
        assert_eq!(parse("1709210096"), Some(ns - 789));
        assert_eq!(rfc3339(0), "0001-01-01T00:00:00Z");
        assert_eq!(parse("yesterday"), None);
    }

    #[test]
    fn durations_read_like_dockers() {
        let s = 1_000_000_000;
        assert_eq!(human(0), "Less than a second");
        assert_eq!(human(5 * s), "5 seconds");
        assert_eq!(human(90 * s), "About a minute");
        assert_eq!(human(600 * s), "10 minutes");
        assert_eq!(human(3 * 86_400 * s), "3 days");
    }
}
