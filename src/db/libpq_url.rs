//! libpq connection URLs, including the multi-host form that failover needs
//! (`postgres://user@h1:5432,h2:5432/db?target_session_attrs=read-write`),
//! which a generic URL parser refuses. The URL is handed to libpq as it is;
//! these helpers only check it, add a parameter, and lift the password out.

use anyhow::bail;

/// The pieces of `scheme://[userinfo@]hosts[/path][?query]`.
struct Parts<'a> {
    scheme: &'a str,
    userinfo: Option<&'a str>,
    hosts: &'a str,
    rest: &'a str,
}

fn split(url: &str) -> Option<Parts<'_>> {
    let (scheme, after) = url.split_once("://")?;
    let end = after.find(['/', '?']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => (Some(userinfo), hosts),
        None => (None, authority),
    };
    Some(Parts {
        scheme,
        userinfo,
        hosts,
        rest,
    })
}

/// A `postgres://` or `postgresql://` URL whose every host is well formed.
/// The error never repeats the URL, which may hold a password.
pub fn check(url: &str) -> anyhow::Result<()> {
    let Some(parts) = split(url) else {
        bail!("not a URL");
    };
    if !matches!(parts.scheme, "postgres" | "postgresql") {
        bail!("must start with postgres:// or postgresql://");
    }
    let userinfo = parts.userinfo.map(|u| format!("{u}@")).unwrap_or_default();
    for host in parts.hosts.split(',') {
        // An empty host is libpq's "the default socket"; the query may name it.
        let one = format!("{}://{userinfo}{host}{}", parts.scheme, parts.rest);
        if let Err(e) = url::Url::parse(&one) {
            bail!("not a URL ({e})");
        }
    }
    Ok(())
}

/// Adds `key=value` to the query unless the URL already sets `key`.
pub fn with_default_param(url: &str, key: &str, value: &str) -> String {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    if query
        .split('&')
        .any(|pair| pair.split('=').next() == Some(key))
    {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{key}={value}")
}

/// The URL without its password, and the password (decoded), so that a
/// child process gets it in its environment, not on its command line.
pub fn without_password(url: &str) -> (String, Option<String>) {
    let Some(parts) = split(url) else {
        return (url.to_owned(), None);
    };
    let Some((user, password)) = parts.userinfo.and_then(|u| u.split_once(':')) else {
        return (url.to_owned(), None);
    };
    let password = percent_encoding::percent_decode_str(password)
        .decode_utf8_lossy()
        .into_owned();
    let stripped = format!("{}://{user}@{}{}", parts.scheme, parts.hosts, parts.rest);
    (stripped, Some(password))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MULTI: &str =
        "postgres://app:s%40cret@10.0.0.1:5432,10.0.0.2:5433/mpp?target_session_attrs=read-write";

    #[test]
    fn multi_host_urls_are_accepted_and_bad_ones_refused() {
        check(MULTI).unwrap();
        check("postgres://postgres@127.0.0.1:5432/db").unwrap();
        check("postgres://postgres:pw@localhost:1/db?host=%2Ftmp%2Frun").unwrap();
        assert!(check("mysql://root@db/x").is_err());
        assert!(check("postgres://a@h1:5432,h2:notaport/db").is_err());
        assert!(check("no url").is_err());
        let err = check("postgres://u:hunter2@h1:x/db")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"));
    }

    #[test]
    fn a_parameter_is_added_once() {
        let url = with_default_param(MULTI, "connect_timeout", "3");
        assert!(url.ends_with("target_session_attrs=read-write&connect_timeout=3"));
        assert_eq!(with_default_param(&url, "connect_timeout", "9"), url);
        assert_eq!(
            with_default_param("postgres://h/db", "connect_timeout", "3"),
            "postgres://h/db?connect_timeout=3"
        );
    }

    #[test]
    fn the_password_is_lifted_out() {
        let (url, password) = without_password(MULTI);
        assert_eq!(
            url,
            "postgres://app@10.0.0.1:5432,10.0.0.2:5433/mpp?target_session_attrs=read-write"
        );
        assert_eq!(password.as_deref(), Some("s@cret"));
        assert_eq!(
            without_password("postgres://u@h/db"),
            ("postgres://u@h/db".to_owned(), None)
        );
    }
}
