//! The command line. Every option can also be set through the environment
//! variable of the same name as its value placeholder.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::domain::ApprovalMode;
use crate::domain::user::Role;
use crate::telemetry::LogFormat;

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
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a reviewer account; the password is read from standard input (one line).
    Add {
        #[arg(long)]
        username: String,
        #[arg(long, value_enum)]
        role: Role,
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

    /// The Client-Id Alipay+ uses for this wallet. Unset: a development value.
    #[arg(long, env = "MPP_CLIENT_ID", value_name = "MPP_CLIENT_ID")]
    pub client_id: Option<String>,

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

    /// Database connections per process.
    #[arg(
        long,
        env = "MPP_DB_POOL_SIZE",
        value_name = "MPP_DB_POOL_SIZE",
        default_value_t = 16
    )]
    pub db_pool_size: u32,
}
