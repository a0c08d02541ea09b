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

/// `mpp-registrar simulate load`.
pub async fn simulate_load(args: &crate::cli::SimulateLoadArgs) -> anyhow::Result<()> {
    use crate::simulate::limits;
    use crate::simulate::load::{self, Mode};

    let key_path = dev_key(
        &args.alipay_private_key,
        &args.data_dir,
        "alipay/private_key.pem",
    );
    let signer = keys::read_signer(&key_path, &args.key_version).context("--alipay-private-key")?;
    let duration = parse_duration(&args.duration).context("--duration")?;
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();

    let mut sign_rate = None;
    if args.limits {
        let verifier = keys::verifier_from_text(&keys::generate_key_pair()?.public_pem)?;
        // The rates of our own key and a throwaway key are the same (both 2048-bit); signing uses ours.
        let (sign, _) = load::rsa_rates(&signer, &verifier, std::time::Duration::from_secs(3));
        let probe = signer.sign(b"probe")?;
        let public = keys::read_verifier(&args.data_dir.join("keys/alipay/public_key.pem")).ok();
        let verify = match public {
            Some(v) if v.verify(b"probe", &probe) => {
                load::rsa_rates(&signer, &v, std::time::Duration::from_secs(3)).1
            }
            _ => f64::NAN,
        };
        println!("limit: RSA-2048 sign {sign:.0}/s, verify {verify:.0}/s on all cores (aws-lc)");
        sign_rate = Some(sign);
        if let Some(url) = &args.database_url {
            match limits::pg_insert_rate(url, args.concurrency, std::time::Duration::from_secs(10))
            {
                Ok(rate) => println!(
                    "limit: PostgreSQL durable insert {rate:.0}/s (pgbench, registrations row shape, {} clients)",
                    args.concurrency
                ),
                Err(e) => println!("limit: PostgreSQL insert rate not measured: {e:#}"),
            }
        }
    }

    if matches!(args.mode, Mode::Replay | Mode::Inquiry | Mode::Mix) {
        let warm = load::sign_all(
            &signer,
            &args.client_id,
            load::bodies(Mode::New, &run, args.warmup, 0),
        )?;
        let report = load::drive(
            &args.target,
            &args.client_id,
            warm,
            args.concurrency,
            std::time::Duration::from_secs(600),
        )
        .await;
        println!("warm-up: {}", report.summary());
    }
    let prepared = load::sign_all(
        &signer,
        &args.client_id,
        load::bodies(args.mode, &run, args.requests, args.warmup),
    )?;
    let idle = args.server_pid.and_then(limits::rss_mib);
    let report = load::drive(
        &args.target,
        &args.client_id,
        prepared,
        args.concurrency,
        duration,
    )
    .await;
    println!(
        "{:?} at concurrency {}: {}",
        args.mode,
        args.concurrency,
        report.summary()
    );
    if let Some(rate) = sign_rate {
        println!(
            "ratio: {:.1} % of the all-core RSA sign rate",
            100.0 * report.throughput() / rate
        );
    }
    if let (Some(pid), Some((idle_rss, _))) = (args.server_pid, idle)
        && let Some((now, peak)) = limits::rss_mib(pid)
    {
        println!(
            "server memory: {idle_rss:.1} MiB before the run, {now:.1} MiB after, peak {peak:.1} MiB"
        );
    }
    if report.errors > 0 {
        bail!("{} request(s) got no answer", report.errors);
    }
    Ok(())
}
