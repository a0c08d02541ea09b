//! Typed, validated configuration for `serve`. Everything is checked at start;
//! an error names the setting (its environment variable) and never prints a
//! secret.

use std::net::ToSocketAddrs as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::cli::{DEV_CLIENT_ID, ServeArgs};
use crate::db::DbTimeouts;
use crate::domain::ApprovalMode;
use crate::domain::notification::{NotifyPolicy, Schedule};
use crate::protocol::keys;
use crate::protocol::signature::{KeyRing, Signer};

/// The Client-Id used when MPP_CLIENT_ID is unset (development only).

#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: String,
    /// `MPP_ADMIN_LISTEN`: when set, the admin pages and `/metrics` are served
    /// only there, and `/aps` only on `listen`.
    pub admin_listen: Option<String>,
    pub client_id: String,
    pub psp_name: String,
    pub signer: Arc<Signer>,
    pub alipay_keys: Arc<KeyRing>,
    pub approval_mode: ApprovalMode,
    /// `MPP_RULES_FILE`: the triage rules; `None`: `approval_mode` decides.
    pub rules_file: Option<PathBuf>,
    /// `MPP_SCREENING_THRESHOLD`: the similarity of a `names` hit.
    pub screening_threshold: f64,
    pub max_body_bytes: usize,
    /// How long an identical answer's signature is reused.
    pub signature_reuse: Duration,
    /// How far a Request-Time may be from our clock; `None`: no check.
    pub request_time_window: Option<Duration>,
    pub db_pool_size: u32,
    pub db_timeouts: DbTimeouts,
    pub notify: NotifySettings,
    pub admin: AdminSettings,
    /// `false` in tests: the test decides when the server stops.
    pub handle_signals: bool,
    /// HTTP worker threads; `None` means one per core.
    pub workers: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct NotifySettings {
    pub alipay_gateway_url: Option<url::Url>,
    pub retry_gaps: Vec<Duration>,
    pub merchant_retry_gaps: Vec<Duration>,
    pub allow_private_targets: bool,
    pub ssl_cert_file: Option<PathBuf>,
    pub timeout: Duration,
    pub concurrency: usize,
    pub lease: Duration,
    pub poll_interval: Duration,
    /// `false` runs no workers in this process (tests that play the worker themselves).
    pub workers_enabled: bool,
}

impl NotifySettings {
    pub fn policy(&self) -> NotifyPolicy {
        NotifyPolicy {
            alipay: Schedule::after_immediate_attempt(self.retry_gaps.clone()),
            merchant: Schedule::from_send_gaps(&self.merchant_retry_gaps),
        }
    }
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            alipay_gateway_url: None,
            retry_gaps: Vec::new(),
            merchant_retry_gaps: Vec::new(),
            allow_private_targets: false,
            ssl_cert_file: None,
            timeout: Duration::from_secs(15),
            concurrency: 32,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
            workers_enabled: true,
        }
    }
}

/// Single sign-on with the wallet's OpenID Provider.
#[derive(Debug, Clone)]
pub struct SsoSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Where browsers reach us: the redirect URI is `{public_url}/admin/oidc/callback`.
    pub public_url: String,
    pub groups_claim: String,
    pub admin_groups: Vec<String>,
    pub reviewer_groups: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct AdminSettings {
    pub secure_cookies: bool,
    pub session_idle: Duration,
    pub session_max_age: Duration,
    pub reason_templates: Vec<String>,
    pub trust_forwarded_for: bool,
    pub mfa: crate::domain::two_factor::Mfa,
    pub sso: Option<SsoSettings>,
    pub password_sign_in: bool,
    /// A PENDING registration waiting longer is marked Overdue.
    pub review_sla: Duration,
    /// How long a reviewer's claim on a registration holds.
    pub claim_ttl: Duration,
    pub four_eyes: crate::domain::review::FourEyes,
    /// Shown as a band on every admin page (e.g. `SANDBOX`).
    pub environment_label: Option<String>,
}

impl Default for AdminSettings {
    fn default() -> Self {
        AdminSettings {
            secure_cookies: false,
            session_idle: Duration::from_secs(30 * 60),
            session_max_age: Duration::from_secs(12 * 3600),
            reason_templates: Vec::new(),
            trust_forwarded_for: false,
            mfa: crate::domain::two_factor::Mfa::Required,
            sso: None,
            password_sign_in: true,
            review_sla: Duration::from_secs(24 * 3600),
            claim_ttl: Duration::from_secs(30 * 60),
            four_eyes: crate::domain::review::FourEyes::Off,
            environment_label: None,
        }
    }
}

/// Where the keys in use came from, for the start-up banner.
#[derive(Debug, Clone, Default)]
pub struct KeySources {
    pub private_key: PathBuf,
    pub public_key: Option<PathBuf>,
    pub alipay_public_keys: Vec<(u32, PathBuf)>,
    /// Set when dev keys are in use: the Alipay+ stand-in's private key.
    pub dev_alipay_private_key: Option<PathBuf>,
}

impl Settings {
    pub fn from_args(args: &ServeArgs) -> anyhow::Result<(Settings, KeySources)> {
        resolve_listen(&args.listen).context("MPP_LISTEN")?;
        let admin_listen = non_empty(&args.admin_listen).map(str::to_owned);
        if let Some(admin) = &admin_listen {
            resolve_listen(admin).context("MPP_ADMIN_LISTEN")?;
        }
        if let Some(url) = non_empty(&args.database.database_url) {
            check_database_url(url).context("DATABASE_URL")?;
        }
        let key_version = args.key_version.trim();
        if key_version.is_empty() || !key_version.bytes().all(|b| b.is_ascii_digit()) {
            bail!(
                "MPP_KEY_VERSION: must be a number, got {:?}",
                args.key_version
            );
        }
        let alipay_gateway_url = non_empty(&args.alipay_gateway_url)
            .map(|u| check_http_url(u).context("ALIPAY_GATEWAY_URL"))
            .transpose()?;
        let retry_gaps = parse_gaps(&args.notify_retry_gaps).context("MPP_NOTIFY_RETRY_GAPS")?;
        let merchant_retry_gaps = parse_gaps(&args.merchant_notify_retry_gaps)
            .context("MPP_MERCHANT_NOTIFY_RETRY_GAPS")?;
        let notify_timeout =
            parse_duration(args.notify_timeout.trim()).context("MPP_NOTIFY_TIMEOUT")?;
        let notify_lease = parse_duration(args.notify_lease.trim()).context("MPP_NOTIFY_LEASE")?;
        if notify_lease <= notify_timeout {
            bail!(
                "MPP_NOTIFY_LEASE: must be longer than MPP_NOTIFY_TIMEOUT, or attempts would be taken over mid-flight"
            );
        }
        if args.notify_concurrency == 0 {
            bail!("MPP_NOTIFY_CONCURRENCY: must be at least 1");
        }
        if let Some(path) = &args.ssl_cert_file
            && std::fs::metadata(path).is_err()
        {
            bail!("SSL_CERT_FILE: cannot read {}", path.display());
        }
        if args.psp_name.trim().is_empty() {
            bail!("MPP_PSP_NAME: must not be empty");
        }
        if args.max_body_bytes < 1024 {
            bail!("MPP_MAX_BODY_BYTES: must be at least 1024");
        }
        let session_idle =
            parse_duration(args.session_idle_timeout.trim()).context("MPP_SESSION_IDLE_TIMEOUT")?;
        if session_idle < Duration::from_secs(60) {
            bail!("MPP_SESSION_IDLE_TIMEOUT: must be at least 1m");
        }
        let session_max_age =
            parse_duration(args.session_max_age.trim()).context("MPP_SESSION_MAX_AGE")?;
        if session_max_age < Duration::from_secs(60) {
            bail!("MPP_SESSION_MAX_AGE: must be at least 1m");
        }
        let review_sla = parse_duration(args.review_sla.trim()).context("MPP_REVIEW_SLA")?;
        let claim_ttl = parse_duration(args.claim_ttl.trim()).context("MPP_CLAIM_TTL")?;
        if claim_ttl < Duration::from_secs(60) {
            bail!("MPP_CLAIM_TTL: must be at least 1m");
        }
        let environment_label = args
            .environment_label
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned);
        if environment_label
            .as_deref()
            .is_some_and(|l| l.chars().count() > 40 || l.chars().any(char::is_control))
        {
            bail!("MPP_ENVIRONMENT_LABEL: at most 40 characters, no control characters");
        }
        let reason_templates =
            parse_reason_templates(args.reason_templates.as_deref().unwrap_or_default())
                .context("MPP_REASON_TEMPLATES")?;
        let signature_reuse =
            parse_duration(args.signature_reuse.trim()).context("MPP_SIGNATURE_REUSE")?;
        if signature_reuse > Duration::from_secs(1) {
            bail!("MPP_SIGNATURE_REUSE: at most 1s, so that a Response-Time stays current");
        }
        let request_time_window = non_empty(&args.request_time_window)
            .map(|w| parse_duration(w).context("MPP_REQUEST_TIME_WINDOW"))
            .transpose()?;
        if request_time_window.is_some_and(|w| w < Duration::from_secs(1)) {
            bail!(
                "MPP_REQUEST_TIME_WINDOW: at least 1s, or clocks a few milliseconds apart would refuse every request"
            );
        }
        if args.db_pool_size == 0 {
            bail!("MPP_DB_POOL_SIZE: must be at least 1");
        }

        // Development keys and the development Client-Id exist only in the
        // zero-configuration mode: a server pointed at a real database must
        // not fall back to a key whose private half sits in its data
        // directory, or to the sandbox Client-Id.
        if non_empty(&args.database.database_url).is_some() {
            for (setting, given) in [
                ("MPP_PRIVATE_KEY_FILE", args.private_key_file.is_some()),
                (
                    "ALIPAY_PUBLIC_KEY_FILE",
                    args.alipay_public_key_file.is_some(),
                ),
                ("MPP_CLIENT_ID", non_empty(&args.client_id).is_some()),
            ] {
                if !given {
                    bail!(
                        "{setting}: required when DATABASE_URL is set (development keys and the development \
                         Client-Id exist only with no DATABASE_URL)"
                    );
                }
            }
        }
        let dev_keys = args.database.data_dir.join("keys");
        let mut sources = KeySources::default();
        let signer = match &args.private_key_file {
            Some(path) => {
                sources.private_key = path.clone();
                keys::read_signer(path, key_version).context("MPP_PRIVATE_KEY_FILE")?
            }
            None => {
                let dir = dev_keys.join("mpp");
                ensure_dev_key_pair(&dir).context("MPP_PRIVATE_KEY_FILE (unset: dev key)")?;
                sources.private_key = dir.join("private_key.pem");
                sources.public_key = Some(dir.join("public_key.pem"));
                keys::read_signer(&sources.private_key, key_version)
                    .context("MPP_PRIVATE_KEY_FILE (dev key)")?
            }
        };

        let mut ring = KeyRing::default();
        let first_key = match &args.alipay_public_key_file {
            Some(path) => path.clone(),
            None => {
                let dir = dev_keys.join("alipay");
                ensure_dev_key_pair(&dir).context("ALIPAY_PUBLIC_KEY_FILE (unset: dev key)")?;
                sources.dev_alipay_private_key = Some(dir.join("private_key.pem"));
                dir.join("public_key.pem")
            }
        };
        ring.insert(
            1,
            keys::read_verifier(&first_key).context("ALIPAY_PUBLIC_KEY_FILE")?,
        );
        sources.alipay_public_keys.push((1, first_key));
        if let Some(list) = non_empty(&args.alipay_public_keys) {
            for (version, path) in parse_key_list(list).context("ALIPAY_PUBLIC_KEYS")? {
                let verifier = keys::read_verifier(&path)
                    .with_context(|| format!("ALIPAY_PUBLIC_KEYS (keyVersion {version})"))?;
                ring.insert(version, verifier);
                sources.alipay_public_keys.push((version, path));
            }
        }

        let screening_threshold = args.screening_threshold;
        if !(screening_threshold > 0.0 && screening_threshold <= 1.0) {
            bail!("MPP_SCREENING_THRESHOLD: {screening_threshold} is not above 0 and at most 1");
        }
        if let Some(file) = args
            .rules_file
            .as_deref()
            .filter(|p| !p.as_os_str().is_empty())
        {
            crate::workflow::triage::load_rules(file).context("MPP_RULES_FILE")?;
        }

        let settings = Settings {
            listen: args.listen.clone(),
            admin_listen,
            client_id: non_empty(&args.client_id)
                .unwrap_or(DEV_CLIENT_ID)
                .to_owned(),
            psp_name: args.psp_name.trim().to_owned(),
            signer: Arc::new(signer),
            alipay_keys: Arc::new(ring),
            approval_mode: args.approval_mode,
            rules_file: args
                .rules_file
                .clone()
                .filter(|p| !p.as_os_str().is_empty()),
            screening_threshold,
            max_body_bytes: args.max_body_bytes,
            signature_reuse,
            request_time_window,
            db_pool_size: args.db_pool_size,
            db_timeouts: DbTimeouts::default(),
            notify: NotifySettings {
                alipay_gateway_url,
                retry_gaps,
                merchant_retry_gaps,
                allow_private_targets: args.allow_private_notify_targets,
                ssl_cert_file: args.ssl_cert_file.clone(),
                timeout: notify_timeout,
                concurrency: args.notify_concurrency,
                lease: notify_lease,
                ..NotifySettings::default()
            },
            admin: AdminSettings {
                secure_cookies: args.secure_cookies,
                session_idle,
                session_max_age,
                reason_templates,
                trust_forwarded_for: args.trust_forwarded_for,
                mfa: args.mfa,
                sso: sso_settings(args)?,
                password_sign_in: args.password_sign_in,
                review_sla,
                claim_ttl,
                four_eyes: args.four_eyes,
                environment_label,
            },
            handle_signals: true,
            workers: None,
        };
        Ok((settings, sources))
    }
}

/// SSO is on when `MPP_OIDC_ISSUER` is set; then the client, its secret and
/// our public URL are required, and password sign-in may be turned off.
fn sso_settings(args: &ServeArgs) -> anyhow::Result<Option<SsoSettings>> {
    let Some(issuer) = non_empty(&args.oidc_issuer) else {
        if !args.password_sign_in {
            bail!("MPP_PASSWORD_SIGN_IN: false needs single sign-on (MPP_OIDC_ISSUER)");
        }
        return Ok(None);
    };
    check_http_url(issuer).context("MPP_OIDC_ISSUER")?;
    let client_id = non_empty(&args.oidc_client_id)
        .context("MPP_OIDC_CLIENT_ID: required with MPP_OIDC_ISSUER")?;
    let secret_file = args
        .oidc_client_secret_file
        .as_ref()
        .context("MPP_OIDC_CLIENT_SECRET_FILE: required with MPP_OIDC_ISSUER")?;
    let client_secret = std::fs::read_to_string(secret_file)
        .with_context(|| {
            format!(
                "MPP_OIDC_CLIENT_SECRET_FILE: cannot read {}",
                secret_file.display()
            )
        })?
        .trim()
        .to_owned();
    if client_secret.is_empty() {
        bail!(
            "MPP_OIDC_CLIENT_SECRET_FILE: {} is empty",
            secret_file.display()
        );
    }
    let public_url =
        non_empty(&args.public_url).context("MPP_PUBLIC_URL: required with MPP_OIDC_ISSUER")?;
    check_http_url(public_url).context("MPP_PUBLIC_URL")?;
    let list = |text: &str| -> Vec<String> {
        text.split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let admin_groups = list(&args.oidc_admin_groups);
    let reviewer_groups = list(&args.oidc_reviewer_groups);
    if admin_groups.is_empty() && reviewer_groups.is_empty() {
        bail!(
            "MPP_OIDC_ADMIN_GROUPS / MPP_OIDC_REVIEWER_GROUPS: name at least one group, or nobody gets in"
        );
    }
    Ok(Some(SsoSettings {
        issuer: issuer.trim_end_matches('/').to_owned(),
        client_id: client_id.to_owned(),
        client_secret,
        public_url: public_url.trim_end_matches('/').to_owned(),
        groups_claim: args.oidc_groups_claim.trim().to_owned(),
        admin_groups,
        reviewer_groups,
    }))
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn resolve_listen(listen: &str) -> anyhow::Result<()> {
    let mut addrs = listen
        .to_socket_addrs()
        .with_context(|| format!("not a host:port address: {listen:?}"))?;
    if addrs.next().is_none() {
        bail!("{listen:?} resolves to no address");
    }
    Ok(())
}

/// A libpq URL: `postgres://` or `postgresql://`. The error never repeats the
/// URL, which may hold a password.
pub fn check_database_url(url: &str) -> anyhow::Result<()> {
    crate::db::libpq_url::check(url)
}

fn check_http_url(url: &str) -> anyhow::Result<url::Url> {
    let parsed = url::Url::parse(url).map_err(|e| anyhow::anyhow!("not a URL ({e}): {url:?}"))?;
    if !matches!(parsed.scheme(), "https" | "http") || parsed.host().is_none() {
        bail!("must be an http(s) URL with a host: {url:?}");
    }
    Ok(parsed)
}

/// Parses `Incomplete documents|Not eligible`: trimmed, non-empty, at most 1024 characters each.
fn parse_reason_templates(list: &str) -> anyhow::Result<Vec<String>> {
    let templates: Vec<String> = list
        .split('|')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(long) = templates.iter().find(|t| t.chars().count() > 1024) {
        bail!(
            "a template is longer than 1024 characters: {:?}...",
            long.chars().take(40).collect::<String>()
        );
    }
    Ok(templates)
}

/// Parses `2=/a.pem,3=/b.pem`.
fn parse_key_list(list: &str) -> anyhow::Result<Vec<(u32, PathBuf)>> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let (version, path) = item
                .split_once('=')
                .with_context(|| format!("expected VERSION=PATH, got {item:?}"))?;
            let version: u32 = version
                .trim()
                .parse()
                .with_context(|| format!("key version must be a number, got {version:?}"))?;
            if version == 1 {
                bail!("keyVersion 1 is ALIPAY_PUBLIC_KEY_FILE; list versions 2 and up here");
            }
            Ok((version, PathBuf::from(path.trim())))
        })
        .collect()
}

/// Parses a gap list such as `0s,2m,10m,1h` (units ms, s, m, h). An empty list is allowed.
pub fn parse_gaps(list: &str) -> anyhow::Result<Vec<Duration>> {
    list.split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(parse_duration)
        .collect()
}

pub fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .with_context(|| format!("{text:?} does not start with a whole number"))?;
    let ms = match unit.trim() {
        "ms" => Some(n),
        "s" => n.checked_mul(1_000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        other => bail!("{text:?} has unit {other:?}; use ms, s, m, h or d"),
    };
    ms.map(Duration::from_millis)
        .with_context(|| format!("{text:?} is too long"))
}

/// Generates a key pair into `dir` once; later runs reuse it.
fn ensure_dev_key_pair(dir: &Path) -> anyhow::Result<()> {
    if dir.join("private_key.pem").exists() && dir.join("public_key.pem").exists() {
        return Ok(());
    }
    tracing::info!(dir = %dir.display(), "generating a development key pair");
    let pair = keys::generate_key_pair()?;
    let _ = std::fs::remove_file(dir.join("private_key.pem"));
    keys::write_key_pair(dir, &pair, "private_key.pem", "public_key.pem")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gap_lists_parse_every_unit() {
        let gaps = parse_gaps("0s, 250ms,2m,1h").unwrap();
        assert_eq!(
            gaps,
            vec![
                Duration::ZERO,
                Duration::from_millis(250),
                Duration::from_secs(120),
                Duration::from_secs(3600)
            ]
        );
        assert!(parse_gaps("").unwrap().is_empty());
        assert!(parse_gaps("5").is_err());
        assert!(parse_gaps("5w").is_err());
        assert!(parse_gaps("-1s").is_err());
    }

    #[test]
    fn key_lists_parse_versions_and_paths() {
        let list = parse_key_list("2=/a.pem, 3=/b c.pem").unwrap();
        assert_eq!(
            list,
            vec![(2, PathBuf::from("/a.pem")), (3, PathBuf::from("/b c.pem"))]
        );
        assert!(parse_key_list("x=/a.pem").is_err());
        assert!(parse_key_list("/a.pem").is_err());
        assert!(parse_key_list("1=/a.pem").is_err());
    }

    #[test]
    fn database_urls_must_be_postgres_and_are_not_echoed() {
        assert!(check_database_url("postgres://u:p@h/db").is_ok());
        let err = check_database_url("mysql://u:secret@h/db")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"));
    }
}
