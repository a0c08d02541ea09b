//! The operator commands besides `serve` and `migrate`: re-driving
//! notifications and the Alipay+ stand-in.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::cli::{SimulateAlipayArgs, SimulateRegisterArgs};
use crate::config::parse_duration;
use crate::db::notifications::{self, RedriveFilter};
use crate::domain::notification::Target;
use crate::protocol::keys;
use crate::protocol::paths;
use crate::simulate::gateway::{Behaviour, Gateway};
use crate::simulate::register::{sample_registration, send_all, sign_request};
use crate::startup::resolve_database;

/// `mpp-registrar notifications retry`.
pub fn retry_notifications(
    filter: RedriveFilter,
    all: bool,
    database: &crate::cli::DatabaseArgs,
) -> anyhow::Result<()> {
    let unfiltered = filter.ids.is_empty()
        && filter.registration_request_id.is_none()
        && filter.status.is_none()
        && filter.target.is_none();
    if unfiltered && !all {
        bail!(
            "name what to re-drive: --id, --registration-request-id, --status, --target, or --all"
        );
    }
    let (url, cluster) = resolve_database(database)?;
    let result = (|| {
        use diesel::Connection as _;
        let mut conn =
            diesel::PgConnection::establish(&url).context("cannot connect to the database")?;
        Ok::<_, anyhow::Error>(notifications::redrive(&mut conn, &filter, "cli", None)?)
    })();
    if let Some(cluster) = cluster {
        cluster.stop()?;
    }
    let rows = result?;
    for row in &rows {
        println!(
            "re-driven: {} {} ({} after {} attempts)",
            row.registration_request_id, row.target, row.status, row.attempts
        );
    }
    println!("{} notification(s) queued again", rows.len());
    Ok(())
}

pub fn parse_target(target: Option<&str>) -> Option<Target> {
    target.and_then(Target::parse)
}

fn dev_key(explicit: &Option<PathBuf>, data_dir: &Path, rel: &str) -> PathBuf {
    explicit
        .clone()
        .unwrap_or_else(|| data_dir.join("keys").join(rel))
}

/// `mpp-registrar simulate alipay`.
pub async fn simulate_alipay(args: &SimulateAlipayArgs) -> anyhow::Result<()> {
    let mpp_key_path = dev_key(&args.mpp_public_key, &args.data_dir, "mpp/public_key.pem");
    let alipay_key_path = dev_key(
        &args.alipay_private_key,
        &args.data_dir,
        "alipay/private_key.pem",
    );
    let mpp_key = keys::read_verifier(&mpp_key_path).context("--mpp-public-key")?;
    let signer = keys::read_signer(&alipay_key_path, "1").context("--alipay-private-key")?;
    for (name, ratio) in [
        ("--unknown-ratio", args.unknown_ratio),
        ("--fail-ratio", args.fail_ratio),
        ("--slow-ratio", args.slow_ratio),
        ("--garbage-ratio", args.garbage_ratio),
    ] {
        if !(0.0..=1.0).contains(&ratio) {
            bail!("{name}: must be between 0 and 1");
        }
    }
    let behaviour = Behaviour {
        unknown_ratio: args.unknown_ratio,
        fail_ratio: args.fail_ratio,
        slow_ratio: args.slow_ratio,
        slow: parse_duration(&args.slow).context("--slow")?,
        garbage_ratio: args.garbage_ratio,
        ..Behaviour::default()
    };
    let gateway = Gateway::start(&args.listen, mpp_key, signer, behaviour, true)?;
    eprintln!(
        "Alipay+ stand-in listening on {}{}; set ALIPAY_GATEWAY_URL={} for the server. Ctrl-C stops it.",
        gateway.url(),
        paths::NOTIFY_REGISTRATION_STATUS,
        gateway.url()
    );
    gateway.run_until_interrupted().await
}

/// `mpp-registrar simulate register`.
pub async fn simulate_register(args: &SimulateRegisterArgs) -> anyhow::Result<()> {
    let key_path = dev_key(
        &args.alipay_private_key,
        &args.data_dir,
        "alipay/private_key.pem",
    );
    let signer = keys::read_signer(&key_path, &args.key_version).context("--alipay-private-key")?;
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let requests = (0..args.count)
        .map(|n| {
            sign_request(
                &signer,
                &args.client_id,
                paths::REGISTRATION,
                serde_json::to_vec(&sample_registration(&run, n))?,
            )
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let report = send_all(&args.target, &args.client_id, requests, args.concurrency).await;
    report.print();
    if report.errors > 0 {
        bail!("{} request(s) got no answer", report.errors);
    }
    Ok(())
}
