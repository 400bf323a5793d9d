//! Time as Docker shows it: RFC 3339 with nanoseconds in UTC for records
//! and log lines (`2026-12-03T16:32:19.123456789Z`), and "5 seconds ago"
//! for tables. Kept in unix nanoseconds on disk, so no time zone and no
//! calendar crate is needed.

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the epoch, now.
pub fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// `ns` as RFC 3339 in UTC; 0 (never) is Docker's zero time.
pub fn rfc3339(ns: i128) -> String {
    if ns <= 0 {
        return "0001-01-01T00:00:00Z".into();
    }
    let secs = (ns / 1_000_000_000) as i64;
    let nanos = (ns % 1_000_000_000) as u32;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Parse what [`rfc3339`] writes (and the same without fractions), or a
/// plain number of unix seconds, as `docker logs --since` takes.
pub fn parse(text: &str) -> Option<i128> {
    if let Ok(secs) = text.parse::<i64>() {
        return Some(secs as i128 * 1_000_000_000);
    }
    let t = text.strip_suffix('Z')?;
    let (date, time) = t.split_once('T')?;
    let mut ymd = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (ymd.next()??, ymd.next()??, ymd.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut parts = hms.split(':').map(|p| p.parse::<i64>().ok());
    let (hh, mm, ss) = (parts.next()??, parts.next()??, parts.next()??);
    let nanos: i128 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").get(..9)?.parse().ok()?
    };
    let secs = days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss;
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

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The inverse of [`civil`].
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
