//! The time headers (transport §6): `Request-Time` read in every form the
//! Alipay+ and Antom SDKs send, and our own `Request-Time`/`Response-Time`
//! written as RFC 3339 with milliseconds.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// `t` in the form we send: RFC 3339, milliseconds, `Z`.
pub fn format_timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The current time in the form we send.
pub fn now_timestamp() -> String {
    format_timestamp(Utc::now())
}

/// The instant a `Response-Time` made at `now` for a request that arrived at
/// `arrived` names, to the millisecond: `now` rounded down when that is not
/// before the arrival, else the next millisecond boundary. Either way it is
/// never before the request; an answer whose instant is still ahead is held
/// until then (at most a millisecond), so it is never dated after it was
/// sent either.
pub fn response_instant(now: DateTime<Utc>, arrived: DateTime<Utc>) -> DateTime<Utc> {
    let floor = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
    if floor >= arrived {
        floor
    } else {
        floor + chrono::Duration::milliseconds(1)
    }
}

/// Reads a `Request-Time`: ISO 8601 with an offset (`2024-05-28T12:12:12.123+08:00`,
/// `2025-02-20T08:51:49.09Z`, whole seconds `+00:00` as the Python SDK sends,
/// or a basic-format offset `+0800`), or epoch milliseconds as the Java SDK
/// sends (`1685599933871`; ten digits or fewer are read as epoch seconds).
pub fn parse_request_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = text.parse().ok()?;
        return if text.len() > 10 {
            DateTime::from_timestamp_millis(n)
        } else {
            DateTime::from_timestamp(n, 0)
        };
    }
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Why a `Request-Time` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestTimeError {
    #[error("missing")]
    Missing,
    #[error("not a time (ISO 8601 with an offset, or epoch milliseconds)")]
    Unreadable,
    #[error("more than {}s from the server's clock", .0.as_secs())]
    OutsideWindow(Duration),
}

/// Checks a present `Request-Time` against `window` around `now`.
pub fn check_request_time(
    text: &str,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<(), RequestTimeError> {
    let sent = parse_request_time(text).ok_or(RequestTimeError::Unreadable)?;
    let skew = (now - sent).abs().to_std().unwrap_or(Duration::MAX);
    if skew > window {
        return Err(RequestTimeError::OutsideWindow(window));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn every_documented_request_time_form_parses() {
        let cases = [
            ("2024-05-28T12:12:12.123+08:00", "2024-05-28T04:12:12.123Z"),
            ("2019-04-04T12:08:56+05:30", "2019-04-04T06:38:56Z"),
            ("2025-02-20T08:51:49.09Z", "2025-02-20T08:51:49.090Z"),
            ("2024-05-28T04:12:12+00:00", "2024-05-28T04:12:12Z"),
            ("2024-05-28T12:12:12.123+0800", "2024-05-28T04:12:12.123Z"),
            ("1685599933871", "2023-06-01T06:12:13.871Z"),
            ("1685599933", "2023-06-01T06:12:13Z"),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_request_time(text), Some(at(expected)), "{text}");
        }
        for bad in ["", "yesterday", "2024-05-28", "2024-05-28T12:12:12", "12ab"] {
            assert_eq!(parse_request_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_window_holds_both_ways() {
        let now = at("2024-05-28T04:12:12Z");
        let window = Duration::from_secs(300);
        assert!(check_request_time("2024-05-28T04:16:12Z", window, now).is_ok());
        assert!(check_request_time("2024-05-28T04:08:12Z", window, now).is_ok());
        assert_eq!(
            check_request_time("2024-05-28T04:18:12Z", window, now),
            Err(RequestTimeError::OutsideWindow(window))
        );
        assert_eq!(
            check_request_time("2019-04-04T12:08:56+05:30", window, now),
            Err(RequestTimeError::OutsideWindow(window))
        );
        assert_eq!(
            check_request_time("soon", window, now),
            Err(RequestTimeError::Unreadable)
        );
    }

    #[test]
    fn a_response_instant_is_never_before_the_request() {
        let arrived = at("2024-05-28T04:12:12.123456Z");
        // Signed in the millisecond the request came: the next boundary.
        let same_ms = response_instant(at("2024-05-28T04:12:12.123900Z"), arrived);
        assert_eq!(same_ms, at("2024-05-28T04:12:12.124Z"));
        // Signed later: the signing millisecond.
        let later = response_instant(at("2024-05-28T04:12:12.130500Z"), arrived);
        assert_eq!(later, at("2024-05-28T04:12:12.130Z"));
        // Arrived on a millisecond boundary.
        let exact = at("2024-05-28T04:12:12.123Z");
        assert_eq!(response_instant(exact, exact), exact);
    }
}
