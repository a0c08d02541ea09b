//! Reading filter parameters from a URL, and writing them back into links:
//! one way for every page that filters (the queue, the audit log).

use chrono::{DateTime, NaiveDate, Utc};

use super::error::AdminError;

/// A parameter's trimmed text; `None` when absent or blank.
pub fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A short text filter: at most `max` characters, no control characters
/// (nothing stored has them, and a NUL could not even be searched for).
pub fn text_filter(
    name: &str,
    v: &Option<String>,
    max: usize,
) -> Result<Option<String>, AdminError> {
    match non_empty(v) {
        None => Ok(None),
        Some(text) if text.chars().count() > max || text.chars().any(char::is_control) => Err(
            AdminError::BadRequest(format!("The {name} filter is not a valid value.")),
        ),
        Some(text) => Ok(Some(text.to_owned())),
    }
}

/// A `YYYY-MM-DD` date.
pub fn date(name: &str, v: &Option<String>) -> Result<Option<NaiveDate>, AdminError> {
    non_empty(v)
        .map(|text| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| AdminError::BadRequest(format!("The {name} date must be YYYY-MM-DD.")))
        })
        .transpose()
}

/// Where a date range starts and where it stops (exclusive), either open.
pub type Instants = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// `from` and `to` dates as a half-open range of instants, UTC: from the
/// start of the first day to the start of the day after the last.
pub fn day_range(from: &Option<String>, to: &Option<String>) -> Result<Instants, AdminError> {
    let start_of = |day: NaiveDate| day.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    Ok((
        date("from", from)?.and_then(start_of),
        date("to", to)?
            .and_then(|d| d.succ_opt())
            .and_then(start_of),
    ))
}

/// The parameters that are given, as `(name, value)` pairs for a link.
pub fn given<const N: usize>(
    params: [(&'static str, &Option<String>); N],
) -> Vec<(&'static str, String)> {
    params
        .into_iter()
        .filter_map(|(name, v)| non_empty(v).map(|v| (name, v.to_owned())))
        .collect()
}

/// `path` with `params` as its query string.
pub fn href(path: &str, params: &[(&str, String)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        q.append_pair(k, v);
    }
    let q = q.finish();
    if q.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{q}")
    }
}
