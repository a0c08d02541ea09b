//! The command line. Every option can also be set through the environment
//! variable of the same name as its value placeholder.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::domain::ApprovalMode;
use crate::domain::notification::{NotificationState, Target};
use crate::domain::screening::ListKind;
use crate::domain::user::Role;
use crate::telemetry::LogFormat;

pub const DEV_CLIENT_ID: &str = "SANDBOX_MPP_REGISTRAR_DEV";

#[derive(Debug, Parser)]
#[command(
    name = "mpp-registrar",
    version,
    about = "Merchant registration server for an Alipay+ MPP (wallet)"
)]
pub struct Cli {
    /// Log line format.
    #[arg(
        long,
        global = true,
        env = "MPP_LOG_FORMAT",
        value_name = "MPP_LOG_FORMAT",
        default_value = "pretty"
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the Alipay+ API, the admin pages and the notifier in one process.
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Manage RSA keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Manage reviewer accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Operate the notification outbox.
    Notifications {
        #[command(subcommand)]
        command: NotificationsCommand,
    },
    /// Screening lists: load a new version, show what is loaded.
    Lists {
        #[command(subcommand)]
        command: ListsCommand,
    },
    /// Triage rules: try a rules file on stored registrations.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// The built-in Alipay+ stand-in.
    Simulate {
        #[command(subcommand)]
        command: SimulateCommand,
    },
    /// Run psql connected to the server's database (the private cluster, or DATABASE_URL):
    /// `mpp-registrar psql -- -c 'SELECT * FROM ops.pending_reviews'`.
    Psql {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Arguments for psql, after `--`.
        #[arg(last = true)]
        args: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ListsCommand {
    /// Replace list NAME, atomically, as its next version; then re-screen PENDING and APPROVED
    /// registrations against it and print the approved merchants that now hit.
    Load {
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        kind: ListKind,
        /// One entry a line (blank lines and lines starting with # are skipped), or CSV with a
        /// header (a .csv file, or --column given).
        #[arg(long)]
        file: PathBuf,
        /// The CSV column holding the entries; default: the only column, or one named
        /// entry, name, registration_number or domain.
        #[arg(long)]
        column: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Print each list's name, kind, version, size and load time.
    Show {
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Run a rules file over the stored registrations of a window, changing nothing: what each
    /// rule would decide, and where it disagrees with people. Exits 1 when a rule would approve
    /// a registration a person rejected.
    Test {
        #[arg(long)]
        file: PathBuf,
        /// How far back: a number with unit m, h or d.
        #[arg(long, default_value = "30d")]
        since: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum NotificationsCommand {
    /// Re-drive failed or dead notifications: queue them again, due now. At least one filter is needed.
    Retry {
        /// Notification ids (ops.notifications.notification_id); repeatable.
        #[arg(long = "id")]
        ids: Vec<i64>,
        #[arg(long)]
        registration_request_id: Option<String>,
        /// Only notifications in this state: failed or dead.
        #[arg(long, value_parser = parse_redrivable)]
        status: Option<NotificationState>,
        /// Only notifications to this target: alipay or merchant.
        #[arg(long, value_parser = parse_target)]
        target: Option<Target>,
        /// Every failed and dead notification.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

fn parse_redrivable(text: &str) -> Result<NotificationState, String> {
    NotificationState::parse(text)
        .filter(|s| s.needs_a_person())
        .ok_or_else(|| "expected failed or dead".to_owned())
}

fn parse_target(text: &str) -> Result<Target, String> {
    Target::parse(text).ok_or_else(|| "expected alipay or merchant".to_owned())
}

#[derive(Debug, Subcommand)]
pub enum SimulateCommand {
    /// Run a local Alipay+ gateway that verifies our notifications and answers them.
    Alipay(SimulateAlipayArgs),
    /// Send signed, varied, valid registrations to a server and report the results.
    Register(SimulateRegisterArgs),
    /// Ask a server about a registration as Alipay+ does; verify the answer's signature and print its JSON.
    Inquiry(SimulateInquiryArgs),
    /// Benchmark a running server: pre-signed load at a fixed concurrency, with the machine's limits.
    Load(SimulateLoadArgs),
    /// Write a benchmark triage policy (DIR/rules.toml) and a names list (DIR/names.txt).
    Policy {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 50)]
        rules: usize,
        #[arg(long, default_value_t = 10_000)]
        names: usize,
    },
    /// Fill the database with realistic registrations, decisions, notifications and audit rows.
    Fill {
        #[arg(long, default_value_t = 1_000_000)]
        registrations: u64,
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: String,
    },
    /// Measure a running server's notifier: decision-to-first-attempt latency, and how fast a backlog drains.
    /// Start the server with ALIPAY_GATEWAY_URL pointing at --gateway-listen.
    Notifications {
        #[arg(long, default_value_t = 200)]
        decisions: usize,
        #[arg(long, default_value_t = 100_000)]
        backlog: u64,
        #[arg(long, default_value = "127.0.0.1:9099")]
        gateway_listen: String,
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: String,
        #[arg(long, env = "MPP_DATA_DIR", default_value = "var")]
        data_dir: PathBuf,
    },
    /// Measure the review queue page, a detail page and an inquiry on a running server.
    Pages {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        target: String,
        #[arg(long, default_value_t = 300)]
        requests: usize,
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: String,
        #[arg(long, env = "MPP_CLIENT_ID", default_value = DEV_CLIENT_ID)]
        client_id: String,
        #[arg(long, env = "MPP_DATA_DIR", default_value = "var")]
        data_dir: PathBuf,
    },
}

#[derive(Debug, Clone, Args)]
pub struct SimulateLoadArgs {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub target: String,
    #[arg(long, value_enum, default_value = "new")]
    pub mode: crate::simulate::load::Mode,
    /// Requests to pre-sign (the run stops when they are used up or --duration passes).
    #[arg(long, default_value_t = 20000)]
    pub requests: usize,
    /// Registrations made before the measured run, for replay, inquiry and mix modes.
    #[arg(long, default_value_t = 2000)]
    pub warmup: usize,
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Upper bound of the measured run (units ms, s, m, h).
    #[arg(long, default_value = "20s")]
    pub duration: String,
    /// Also measure the machine's RSA rates and (with a database URL) PostgreSQL's insert rate.
    #[arg(long)]
    pub limits: bool,
    /// Database for the pgbench insert-rate limit (a scratch table is created and dropped).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// The server's process id, to report its resident memory.
    #[arg(long)]
    pub server_pid: Option<u32>,
    #[command(flatten)]
    pub alipay: AlipaySigning,
}

#[derive(Debug, Clone, Args)]
pub struct SimulateAlipayArgs {
    /// Address to listen on; point ALIPAY_GATEWAY_URL at it.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub listen: String,
    /// The wallet's public key, to verify notifications. Default: the dev key under MPP_DATA_DIR/keys.
    #[arg(long)]
    pub mpp_public_key: Option<PathBuf>,
    /// Alipay+'s private key, to sign answers. Default: the dev key under MPP_DATA_DIR/keys.
    #[arg(long)]
    pub alipay_private_key: Option<PathBuf>,
    /// Share of answers that are U / UNKNOWN_EXCEPTION.
    #[arg(long, default_value_t = 0.0)]
    pub unknown_ratio: f64,
    /// Share of answers that are F / ABNORMAL_REGISTRATION_STATUS.
    #[arg(long, default_value_t = 0.0)]
    pub fail_ratio: f64,
    /// Share of answers that come late (see --slow).
    #[arg(long, default_value_t = 0.0)]
    pub slow_ratio: f64,
    /// How late a slow answer comes (units ms, s, m, h).
    #[arg(long, default_value = "20s")]
    pub slow: String,
    /// Share of answers that are not JSON.
    #[arg(long, default_value_t = 0.0)]
    pub garbage_ratio: f64,
    #[arg(long, env = "MPP_DATA_DIR", default_value = "var")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct SimulateRegisterArgs {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub target: String,
    #[arg(long, default_value_t = 10)]
    pub count: usize,
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    #[command(flatten)]
    pub alipay: AlipaySigning,
}

#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("query").required(true).args(["registration_request_id", "merchant_id"])))]
pub struct SimulateInquiryArgs {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub target: String,
    /// Ask about the registration request with this registrationRequestId.
    #[arg(long)]
    pub registration_request_id: Option<String>,
    /// Ask about every registration key of this referenceMerchantId.
    #[arg(long)]
    pub merchant_id: Option<String>,
    /// With --merchant-id: only this store's in-store registration.
    #[arg(long, requires = "merchant_id")]
    pub store_id: Option<String>,
    /// The wallet's public key, to verify the answer. Default: the dev key under MPP_DATA_DIR/keys.
    #[arg(long)]
    pub mpp_public_key: Option<PathBuf>,
    #[command(flatten)]
    pub alipay: AlipaySigning,
}

/// How the Alipay+ stand-in signs the requests it sends.
#[derive(Debug, Clone, Args)]
pub struct AlipaySigning {
    /// The Client-Id to send (the server's MPP_CLIENT_ID).
    #[arg(long, env = "MPP_CLIENT_ID", default_value = DEV_CLIENT_ID)]
    pub client_id: String,
    /// Alipay+'s private key, to sign requests. Default: the dev key under MPP_DATA_DIR/keys.
    #[arg(long)]
    pub alipay_private_key: Option<PathBuf>,
    #[arg(long, default_value = "1")]
    pub key_version: String,
    #[arg(long, env = "MPP_DATA_DIR", default_value = "var")]
    pub data_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account: the password is asked twice, hidden, on a terminal; else one line of standard input.
    Add {
        #[arg(long)]
        username: String,
        #[arg(long, value_enum)]
        role: Role,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Clear a user's failed sign-ins, so that sign-in is no longer refused for them (audited).
    Unlock {
        #[arg(long)]
        username: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List the accounts: username, role, enabled, last sign-in.
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Disable an account; its sessions end (audited).
    Disable {
        #[arg(long)]
        username: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Enable a disabled account (audited).
    Enable {
        #[arg(long)]
        username: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Change an account's role (audited).
    SetRole {
        #[arg(long)]
        username: String,
        #[arg(long, value_enum)]
        role: Role,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Make an account set up two-factor authentication again at its next sign-in (audited).
    ResetMfa {
        #[arg(long)]
        username: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Set an account's password: asked twice, hidden, on a terminal; else one line of standard input.
    /// The account's sessions end (audited).
    SetPassword {
        #[arg(long)]
        username: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Write a new 2048-bit RSA key pair: DIR/private_key.pem (PKCS#8) and DIR/public_key.pem (SPKI).
    Generate {
        /// Directory to write into; an existing private_key.pem is never overwritten.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL connection URL. Unset: a private cluster under MPP_DATA_DIR/postgres.
    #[arg(
        long,
        env = "DATABASE_URL",
        value_name = "DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,

    /// Directory for development state: the private cluster and generated dev keys.
    #[arg(
        long,
        env = "MPP_DATA_DIR",
        value_name = "MPP_DATA_DIR",
        default_value = "var"
    )]
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Bind address of the HTTP server.
    #[arg(
        long,
        env = "MPP_LISTEN",
        value_name = "MPP_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: String,

    /// Serve the admin pages and /metrics only on this address, and /aps only on MPP_LISTEN (unset: all on MPP_LISTEN).
    #[arg(long, env = "MPP_ADMIN_LISTEN", value_name = "MPP_ADMIN_LISTEN")]
    pub admin_listen: Option<String>,

    /// The Client-Id Alipay+ uses for this wallet. Unset: a development value.
    #[arg(long, env = "MPP_CLIENT_ID", value_name = "MPP_CLIENT_ID")]
    pub client_id: Option<String>,

    /// Our `pspName` in inquiry answers (the wallet's name at Alipay+, e.g. ALIPAY_HK).
    #[arg(
        long,
        env = "MPP_PSP_NAME",
        value_name = "MPP_PSP_NAME",
        default_value = "WALLET"
    )]
    pub psp_name: String,

    /// Our RSA private key (PEM PKCS#8 or PKCS#1, or bare base64). Unset: a dev key under MPP_DATA_DIR/keys.
    #[arg(
        long,
        env = "MPP_PRIVATE_KEY_FILE",
        value_name = "MPP_PRIVATE_KEY_FILE"
    )]
    pub private_key_file: Option<PathBuf>,

    /// The keyVersion we put in our Signature headers.
    #[arg(
        long,
        env = "MPP_KEY_VERSION",
        value_name = "MPP_KEY_VERSION",
        default_value = "1"
    )]
    pub key_version: String,

    /// Alipay+'s public key for keyVersion 1 (PEM SPKI or PKCS#1, or bare base64). Unset: a dev key.
    #[arg(
        long,
        env = "ALIPAY_PUBLIC_KEY_FILE",
        value_name = "ALIPAY_PUBLIC_KEY_FILE"
    )]
    pub alipay_public_key_file: Option<PathBuf>,

    /// More Alipay+ key versions, for rotation: `2=/path/a.pem,3=/path/b.pem`.
    #[arg(long, env = "ALIPAY_PUBLIC_KEYS", value_name = "ALIPAY_PUBLIC_KEYS")]
    pub alipay_public_keys: Option<String>,

    /// Base URL of the Alipay+ gateway. Unset: notifications wait, queued.
    #[arg(long, env = "ALIPAY_GATEWAY_URL", value_name = "ALIPAY_GATEWAY_URL")]
    pub alipay_gateway_url: Option<String>,

    /// `manual`: a reviewer decides (REGISTRATION_IN_PROCESS); `auto`: approve at once (SUCCESS).
    #[arg(
        long,
        env = "MPP_APPROVAL_MODE",
        value_name = "MPP_APPROVAL_MODE",
        default_value = "manual"
    )]
    pub approval_mode: ApprovalMode,

    /// Triage rules (TOML), read at start and again on SIGHUP; unset: MPP_APPROVAL_MODE decides.
    #[arg(long, env = "MPP_RULES_FILE", value_name = "MPP_RULES_FILE")]
    pub rules_file: Option<PathBuf>,

    /// Similarity (0 to 1) at or above which a `names` list entry is a hit.
    #[arg(
        long,
        env = "MPP_SCREENING_THRESHOLD",
        value_name = "MPP_SCREENING_THRESHOLD",
        default_value = "0.9"
    )]
    pub screening_threshold: f64,

    /// Gaps between attempts to Alipay+ after the first, immediate one (units ms, s, m, h).
    #[arg(
        long,
        env = "MPP_NOTIFY_RETRY_GAPS",
        value_name = "MPP_NOTIFY_RETRY_GAPS",
        default_value = "2m,10m,10m,1h,2h,6h,15h"
    )]
    pub notify_retry_gaps: String,

    /// Gaps between attempts to the merchant's registrationNotifyUrl.
    #[arg(
        long,
        env = "MPP_MERCHANT_NOTIFY_RETRY_GAPS",
        value_name = "MPP_MERCHANT_NOTIFY_RETRY_GAPS",
        default_value = "0s,2m,10m,10m,1h,2h,6h,15h"
    )]
    pub merchant_notify_retry_gaps: String,

    /// `true` lets merchant notifications go to loopback and private addresses (tests and demos only).
    #[arg(
        long,
        env = "MPP_ALLOW_PRIVATE_NOTIFY_TARGETS",
        value_name = "MPP_ALLOW_PRIVATE_NOTIFY_TARGETS",
        default_value = "false",
        action = clap::ArgAction::Set
    )]
    pub allow_private_notify_targets: bool,

    /// Largest request body accepted on the /aps APIs, in bytes.
    #[arg(long, env = "MPP_MAX_BODY_BYTES", value_name = "MPP_MAX_BODY_BYTES", default_value_t = 256 * 1024)]
    pub max_body_bytes: usize,

    /// Trust store for outbound HTTPS (PEM); unset: the system roots.
    #[arg(long, env = "SSL_CERT_FILE", value_name = "SSL_CERT_FILE")]
    pub ssl_cert_file: Option<PathBuf>,

    /// Time limit of one notification attempt (units ms, s, m, h).
    #[arg(
        long,
        env = "MPP_NOTIFY_TIMEOUT",
        value_name = "MPP_NOTIFY_TIMEOUT",
        default_value = "15s"
    )]
    pub notify_timeout: String,

    /// Notification attempts in flight at once, per process.
    #[arg(
        long,
        env = "MPP_NOTIFY_CONCURRENCY",
        value_name = "MPP_NOTIFY_CONCURRENCY",
        default_value_t = 32
    )]
    pub notify_concurrency: usize,

    /// How long a claimed notification belongs to its worker before another may take it.
    #[arg(
        long,
        env = "MPP_NOTIFY_LEASE",
        value_name = "MPP_NOTIFY_LEASE",
        default_value = "60s"
    )]
    pub notify_lease: String,

    /// Mark admin cookies Secure: set when the admin pages are served over HTTPS.
    #[arg(
        long,
        env = "MPP_SECURE_COOKIES",
        value_name = "MPP_SECURE_COOKIES",
        default_value = "false",
        action = clap::ArgAction::Set
    )]
    pub secure_cookies: bool,

    /// A reviewer's session ends after this long without use (units ms, s, m, h).
    #[arg(
        long,
        env = "MPP_SESSION_IDLE_TIMEOUT",
        value_name = "MPP_SESSION_IDLE_TIMEOUT",
        default_value = "30m"
    )]
    pub session_idle_timeout: String,

    /// A reviewer's session ends this long after sign-in, however busy (units ms, s, m, h).
    #[arg(
        long,
        env = "MPP_SESSION_MAX_AGE",
        value_name = "MPP_SESSION_MAX_AGE",
        default_value = "12h"
    )]
    pub session_max_age: String,

    /// Reasons reviewers can pick when rejecting or cancelling, separated by `|`.
    #[arg(
        long,
        env = "MPP_REASON_TEMPLATES",
        value_name = "MPP_REASON_TEMPLATES"
    )]
    pub reason_templates: Option<String>,

    /// Take the client address for sign-in throttling from X-Forwarded-For (only behind a proxy that sets it).
    #[arg(
        long,
        env = "MPP_TRUST_FORWARDED_FOR",
        value_name = "MPP_TRUST_FORWARDED_FOR",
        default_value = "false",
        action = clap::ArgAction::Set
    )]
    pub trust_forwarded_for: bool,

    /// `required`: password accounts sign in with a TOTP code too (enrolled at the first sign-in); `off`: the password alone.
    #[arg(
        long,
        env = "MPP_MFA",
        value_name = "MPP_MFA",
        value_enum,
        default_value = "required"
    )]
    pub mfa: crate::domain::two_factor::Mfa,

    /// The wallet's OpenID Provider (issuer URL); set, the sign-in page offers "Sign in with SSO".
    #[arg(long, env = "MPP_OIDC_ISSUER", value_name = "MPP_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// Our client id at the provider.
    #[arg(long, env = "MPP_OIDC_CLIENT_ID", value_name = "MPP_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    /// A file holding our client secret at the provider.
    #[arg(
        long,
        env = "MPP_OIDC_CLIENT_SECRET_FILE",
        value_name = "MPP_OIDC_CLIENT_SECRET_FILE"
    )]
    pub oidc_client_secret_file: Option<PathBuf>,
    /// Where browsers reach the admin pages (the redirect URI is this + /admin/oidc/callback).
    #[arg(long, env = "MPP_PUBLIC_URL", value_name = "MPP_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The claim (ID token, else UserInfo) that lists a person's groups.
    #[arg(
        long,
        env = "MPP_OIDC_GROUPS_CLAIM",
        value_name = "MPP_OIDC_GROUPS_CLAIM",
        default_value = "groups"
    )]
    pub oidc_groups_claim: String,
    /// Groups whose members are admins (comma list).
    #[arg(
        long,
        env = "MPP_OIDC_ADMIN_GROUPS",
        value_name = "MPP_OIDC_ADMIN_GROUPS",
        default_value = ""
    )]
    pub oidc_admin_groups: String,
    /// Groups whose members are reviewers (comma list).
    #[arg(
        long,
        env = "MPP_OIDC_REVIEWER_GROUPS",
        value_name = "MPP_OIDC_REVIEWER_GROUPS",
        default_value = ""
    )]
    pub oidc_reviewer_groups: String,
    /// `false`: only single sign-on (the password form is gone and its POST refused).
    #[arg(
        long,
        env = "MPP_PASSWORD_SIGN_IN",
        value_name = "MPP_PASSWORD_SIGN_IN",
        default_value = "true",
        action = clap::ArgAction::Set
    )]
    pub password_sign_in: bool,

    /// A PENDING registration waiting longer than this is marked Overdue in the queue.
    #[arg(
        long,
        env = "MPP_REVIEW_SLA",
        value_name = "MPP_REVIEW_SLA",
        default_value = "24h"
    )]
    pub review_sla: String,

    /// How long a reviewer's claim on a registration holds.
    #[arg(
        long,
        env = "MPP_CLAIM_TTL",
        value_name = "MPP_CLAIM_TTL",
        default_value = "30m"
    )]
    pub claim_ttl: String,

    /// `off`, `risk` (flagged registrations and rejections for risk) or `all`: decisions a second reviewer must approve.
    #[arg(
        long,
        env = "MPP_FOUR_EYES",
        value_name = "MPP_FOUR_EYES",
        value_enum,
        default_value = "off"
    )]
    pub four_eyes: crate::domain::review::FourEyes,

    /// A band on every admin page naming the environment, e.g. `SANDBOX`.
    #[arg(
        long,
        env = "MPP_ENVIRONMENT_LABEL",
        value_name = "MPP_ENVIRONMENT_LABEL"
    )]
    pub environment_label: Option<String>,

    /// Database connections per process.
    #[arg(
        long,
        env = "MPP_DB_POOL_SIZE",
        value_name = "MPP_DB_POOL_SIZE",
        default_value_t = 16
    )]
    pub db_pool_size: u32,

    /// An answer byte-identical to one signed less than this long ago reuses its Response-Time and Signature (0 signs every answer).
    #[arg(
        long,
        env = "MPP_SIGNATURE_REUSE",
        value_name = "MPP_SIGNATURE_REUSE",
        default_value = "50ms"
    )]
    pub signature_reuse: String,

    /// Refuse (PARAM_ILLEGAL) a Request-Time further than this from our clock (units ms, s, m, h); unset: no check.
    #[arg(
        long,
        env = "MPP_REQUEST_TIME_WINDOW",
        value_name = "MPP_REQUEST_TIME_WINDOW"
    )]
    pub request_time_window: Option<String>,
}
