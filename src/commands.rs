//! The operator commands besides `serve` and `migrate`: re-driving
//! notifications and the Alipay+ stand-in.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::cli::{SimulateAlipayArgs, SimulateInquiryArgs, SimulateRegisterArgs};
use crate::config::parse_duration;
use crate::db::notifications::{self, RedriveFilter};
use crate::protocol::keys;
use crate::protocol::paths;
use crate::simulate::gateway::{Behaviour, Gateway};
use crate::simulate::register::{sample_registration, send_all, sign_request};
use crate::startup::resolve_database;

/// `mpp-registrar psql`: psql on the server's database, as the role of its
/// URL. The password goes to psql in its environment, never on its command
/// line (which other users can read). Returns psql's exit code.
pub fn psql(database: &crate::cli::DatabaseArgs, args: &[String]) -> anyhow::Result<u8> {
    let (url, cluster) = resolve_database(database)?;
    let result = (|| {
        let psql = crate::pgcluster::find_binary("psql")
            .context("psql not found (install PostgreSQL's client package)")?;
        let (conninfo, password) = crate::db::libpq_url::without_password(&url);
        let mut command = std::process::Command::new(psql);
        command.arg("-d").arg(&conninfo).args(args);
        if let Some(password) = password {
            command.env("PGPASSWORD", password);
        }
        let status = command.status().context("cannot run psql")?;
        Ok::<_, anyhow::Error>(
            status
                .code()
                .and_then(|c| u8::try_from(c).ok())
                .unwrap_or(1),
        )
    })();
    if let Some(cluster) = cluster {
        cluster.stop()?;
    }
    result
}

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
        let mut conn = crate::db::connect_as_app(&url)?;
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

/// Which key a simulate command reads, and where it looks by default.
struct KeyChoice<'a> {
    /// The command-line flag that names the file instead.
    flag: &'static str,
    explicit: &'a Option<PathBuf>,
    data_dir: &'a Path,
    /// Path under `MPP_DATA_DIR/keys`.
    rel: &'static str,
}

impl KeyChoice<'_> {
    fn path(&self) -> PathBuf {
        self.explicit
            .clone()
            .unwrap_or_else(|| self.data_dir.join("keys").join(self.rel))
    }

    /// Names the flag, and for a default key the MPP_DATA_DIR it was looked
    /// for under: the usual mistake is running from another directory.
    fn explain<T>(&self, read: anyhow::Result<T>) -> anyhow::Result<T> {
        read.with_context(|| match self.explicit {
            Some(_) => self.flag.to_owned(),
            None => format!(
                "{}: the development key is read from MPP_DATA_DIR={} (absolute: {}); run from the \
                 server's directory, set MPP_DATA_DIR to its data directory, or pass {}",
                self.flag,
                self.data_dir.display(),
                std::path::absolute(self.data_dir)
                    .unwrap_or_else(|_| self.data_dir.to_owned())
                    .display(),
                self.flag
            ),
        })
    }

    fn signer(&self, key_version: &str) -> anyhow::Result<crate::protocol::signature::Signer> {
        self.explain(keys::read_signer(&self.path(), key_version))
    }

    fn verifier(&self) -> anyhow::Result<crate::protocol::signature::Verifier> {
        self.explain(keys::read_verifier(&self.path()))
    }
}

fn alipay_private_key<'a>(explicit: &'a Option<PathBuf>, data_dir: &'a Path) -> KeyChoice<'a> {
    KeyChoice {
        flag: "--alipay-private-key",
        explicit,
        data_dir,
        rel: "alipay/private_key.pem",
    }
}

fn mpp_public_key<'a>(explicit: &'a Option<PathBuf>, data_dir: &'a Path) -> KeyChoice<'a> {
    KeyChoice {
        flag: "--mpp-public-key",
        explicit,
        data_dir,
        rel: "mpp/public_key.pem",
    }
}

/// `mpp-registrar simulate alipay`.
pub async fn simulate_alipay(args: &SimulateAlipayArgs) -> anyhow::Result<()> {
    let mpp_key = mpp_public_key(&args.mpp_public_key, &args.data_dir).verifier()?;
    let signer = alipay_private_key(&args.alipay_private_key, &args.data_dir).signer("1")?;
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

impl crate::cli::AlipaySigning {
    /// The stand-in's signing key: the given file, or the dev key under the data directory.
    fn signer(&self) -> anyhow::Result<crate::protocol::signature::Signer> {
        alipay_private_key(&self.alipay_private_key, &self.data_dir).signer(&self.key_version)
    }
}

/// `mpp-registrar simulate inquiry`: prints the verified answer's JSON.
pub async fn simulate_inquiry(args: &SimulateInquiryArgs) -> anyhow::Result<()> {
    use crate::simulate::inquiry::{Query, inquire};
    let signer = args.alipay.signer()?;
    let wallet_key = mpp_public_key(&args.mpp_public_key, &args.alipay.data_dir).verifier()?;
    let query = match (&args.registration_request_id, &args.merchant_id) {
        (Some(id), _) => Query::Request(id.clone()),
        (None, Some(merchant_id)) => Query::Merchant {
            merchant_id: merchant_id.clone(),
            store_id: args.store_id.clone(),
        },
        (None, None) => bail!("give --registration-request-id or --merchant-id"),
    };
    let answer = inquire(
        &args.target,
        &args.alipay.client_id,
        &signer,
        &wallet_key,
        &query,
    )
    .await?;
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}

/// `mpp-registrar simulate register`.
pub async fn simulate_register(args: &SimulateRegisterArgs) -> anyhow::Result<()> {
    let signer = args.alipay.signer()?;
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let requests = (0..args.count)
        .map(|n| {
            sign_request(
                &signer,
                &args.alipay.client_id,
                paths::REGISTRATION,
                serde_json::to_vec(&sample_registration(&run, n))?,
            )
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let report = send_all(
        &args.target,
        &args.alipay.client_id,
        requests,
        args.concurrency,
    )
    .await;
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

    let signer = args.alipay.signer()?;
    let duration = parse_duration(&args.duration).context("--duration")?;
    let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();

    let mut sign_rate = None;
    let mut insert_rate = None;
    if args.limits {
        let verifier = signer.verifier()?;
        let (sign, verify) = load::rsa_rates(&signer, &verifier, std::time::Duration::from_secs(3));
        println!("limit: RSA-2048 sign {sign:.0}/s, verify {verify:.0}/s on all cores (aws-lc)");
        sign_rate = Some(sign);
        if let Some(url) = &args.database_url {
            match limits::pg_insert_rate(url, args.concurrency, std::time::Duration::from_secs(10))
            {
                Ok(rate) => {
                    println!(
                        "limit: PostgreSQL durable insert {rate:.0}/s (pgbench: rows of the registrations \
                         table's shape with only its primary key and unique request id, {} clients)",
                        args.concurrency
                    );
                    insert_rate = Some(rate);
                }
                Err(e) => println!("limit: PostgreSQL insert rate not measured: {e:#}"),
            }
        }
    }

    if matches!(args.mode, Mode::Replay | Mode::Inquiry | Mode::Mix) {
        let warm = load::sign_all(
            &signer,
            &args.alipay.client_id,
            load::bodies(Mode::New, &run, args.warmup, 0),
        )?;
        let report = load::drive(
            &args.target,
            &args.alipay.client_id,
            warm,
            args.concurrency,
            std::time::Duration::from_secs(600),
        )
        .await;
        println!("warm-up: {}", report.summary());
    }
    let prepared = load::sign_all(
        &signer,
        &args.alipay.client_id,
        load::bodies(args.mode, &run, args.requests, args.warmup),
    )?;
    let idle = args.server_pid.and_then(limits::rss_mib);
    let report = load::drive(
        &args.target,
        &args.alipay.client_id,
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
    if let (Mode::New, Some(rate)) = (args.mode, insert_rate) {
        println!(
            "ratio: {:.2} of PostgreSQL's durable insert rate",
            report.throughput() / rate
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

/// `mpp-registrar simulate fill`.
pub fn simulate_fill(database_url: &str, registrations: u64) -> anyhow::Result<()> {
    let took = crate::simulate::bench::fill(database_url, registrations)?;
    println!(
        "filled {registrations} registrations in {:.1} s",
        took.as_secs_f64()
    );
    Ok(())
}

/// `mpp-registrar simulate notifications`.
pub async fn simulate_notifications(
    decisions: usize,
    backlog: u64,
    gateway_listen: &str,
    database_url: &str,
    data_dir: &Path,
) -> anyhow::Result<()> {
    use crate::simulate::bench;
    let mpp_key = mpp_public_key(&None, data_dir).verifier()?;
    let signer = alipay_private_key(&None, data_dir).signer("1")?;
    let gateway = Gateway::start(gateway_listen, mpp_key, signer, Behaviour::default(), false)?;
    let url = database_url.to_owned();
    let delays = tokio::task::spawn_blocking(move || {
        bench::decision_latency(
            &url,
            decisions,
            std::time::Duration::from_millis(20),
            std::time::Duration::from_secs(60),
        )
    })
    .await??;
    let pick = |p: f64| {
        delays
            .get(((delays.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "decision to first attempt ({} decisions): p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        delays.len(),
        pick(0.5),
        pick(0.95),
        pick(0.99),
        delays.last().copied().unwrap_or(f64::NAN)
    );
    if backlog > 0 {
        let url = database_url.to_owned();
        let took = tokio::task::spawn_blocking(move || {
            bench::drain(&url, backlog, std::time::Duration::from_secs(900))
        })
        .await??;
        println!(
            "backlog of {backlog} due notifications drained in {:.1} s: {:.0}/s (stand-in received {})",
            took.as_secs_f64(),
            backlog as f64 / took.as_secs_f64(),
            gateway.received().len()
        );
    }
    gateway.stop().await;
    Ok(())
}

/// `mpp-registrar simulate pages`.
pub async fn simulate_pages(
    target: &str,
    requests: usize,
    database_url: &str,
    client_id: &str,
    data_dir: &Path,
) -> anyhow::Result<()> {
    use diesel::{Connection as _, RunQueryDsl as _};
    use std::time::Instant;
    let password = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let username = format!("bench{}", &password[6..14]);
    let hash = crate::admin::password::hash_password(&password)?;
    let url = database_url.to_owned();
    let user = username.clone();
    let ids = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<i64>> {
        let mut conn = diesel::PgConnection::establish(&url)?;
        crate::db::users::insert_user(
            &mut conn,
            &user,
            &hash,
            crate::domain::user::Role::Reviewer,
        )?;
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            id: i64,
        }
        Ok(
            diesel::sql_query("SELECT id FROM registrations TABLESAMPLE SYSTEM (1) LIMIT 2000")
                .load::<Id>(&mut conn)?
                .into_iter()
                .map(|i| i.id)
                .collect(),
        )
    })
    .await??;
    anyhow::ensure!(
        !ids.is_empty(),
        "no registrations to look at; fill the database first"
    );
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let cookie = |r: &reqwest::Response, name: &str| -> Option<String> {
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with(&format!("{name}=")))
            .and_then(|c| c.split(';').next())
            .map(str::to_owned)
    };
    let login_page = client.get(format!("{target}/admin/login")).send().await?;
    let login_cookie = cookie(&login_page, "mpp_login_csrf").context("no sign-in cookie")?;
    let login = login_page.text().await?;
    let csrf = login
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .context("no login form")?
        .to_owned();
    let signed_in = client
        .post(format!("{target}/admin/login"))
        .header("Origin", target)
        .header("Cookie", login_cookie)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs([
                    ("csrf", csrf.as_str()),
                    ("username", username.as_str()),
                    ("password", password.as_str()),
                ])
                .finish(),
        )
        .send()
        .await?;
    anyhow::ensure!(
        signed_in.status() == 303,
        "sign-in failed: {}",
        signed_in.status()
    );
    let session = match cookie(&signed_in, "mpp_challenge") {
        None => cookie(&signed_in, "mpp_session").context("no session cookie")?,
        // Two-factor required: enrol this throwaway account as a person would.
        Some(challenge) => {
            let page = client
                .get(format!("{target}/admin/login/two-factor"))
                .header("Cookie", &challenge)
                .send()
                .await?
                .text()
                .await?;
            let field = |marker: &str, end: char| {
                page.split(marker)
                    .nth(1)
                    .and_then(|s| s.split(end).next())
                    .map(str::to_owned)
            };
            let secret = field("data-totp-secret>", '<')
                .and_then(|s| crate::domain::two_factor::from_base32(&s))
                .context("no enrolment page")?;
            let csrf = field("name=\"csrf\" value=\"", '"').context("no code form")?;
            let now = chrono::Utc::now().timestamp().max(0) as u64;
            let code = crate::domain::two_factor::code_at(&secret, now).context("no code")?;
            let enrolled = client
                .post(format!("{target}/admin/login/two-factor"))
                .header("Origin", target)
                .header("Cookie", &challenge)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(
                    url::form_urlencoded::Serializer::new(String::new())
                        .extend_pairs([("csrf", csrf.as_str()), ("code", code.as_str())])
                        .finish(),
                )
                .send()
                .await?;
            cookie(&enrolled, "mpp_session").context("two-factor enrolment failed")?
        }
    };

    let signer = alipay_private_key(&None, data_dir).signer("1")?;
    let report = |name: &str, mut samples: Vec<std::time::Duration>| {
        samples.sort();
        let pick = |p: f64| {
            samples[((samples.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
        };
        println!(
            "{name}: {} requests, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms",
            samples.len(),
            pick(0.5),
            pick(0.95),
            pick(0.99)
        );
    };
    let mut queue = Vec::new();
    for _ in 0..requests {
        let t = Instant::now();
        let r = client
            .get(format!("{target}/admin"))
            .header("Cookie", &session)
            .send()
            .await?;
        anyhow::ensure!(r.status() == 200, "queue page: {}", r.status());
        r.bytes().await?;
        queue.push(t.elapsed());
    }
    report("review queue page", queue);
    let mut detail = Vec::new();
    for i in 0..requests {
        let t = Instant::now();
        let r = client
            .get(format!(
                "{target}/admin/registrations/{}",
                ids[i % ids.len()]
            ))
            .header("Cookie", &session)
            .send()
            .await?;
        anyhow::ensure!(r.status() == 200, "detail page: {}", r.status());
        r.bytes().await?;
        detail.push(t.elapsed());
    }
    report("detail page", detail);
    // The search box over every status: words of names (two scripts), a
    // registration number, a merchant-id prefix, a website, a request id.
    const KINDS: [&str; 6] = [
        "a word of a name",
        "a registration number",
        "a merchant-id prefix",
        "a website",
        "a request id",
        "words that match nothing",
    ];
    let mut search = Vec::new();
    let mut by_kind: Vec<Vec<std::time::Duration>> = vec![Vec::new(); KINDS.len()];
    for i in 0..requests {
        let id = ids[i % ids.len()];
        let term = match i % KINDS.len() {
            0 => {
                ["dragon", "harbour tea", "金龍", "Pharmacy", "sakura books"][i / 6 % 5].to_owned()
            }
            1 => (10_000_000 + id).to_string(),
            2 => format!("FM-{}", id / 10),
            3 => format!("shop{id}.example"),
            4 => format!("FILL-{id}"),
            _ => format!("jade kitchen {id}"),
        };
        let t = Instant::now();
        let r = client
            .get(format!(
                "{target}/admin?q={}",
                url::form_urlencoded::byte_serialize(term.as_bytes()).collect::<String>()
            ))
            .header("Cookie", &session)
            .send()
            .await?;
        anyhow::ensure!(r.status() == 200, "search {term:?}: {}", r.status());
        r.bytes().await?;
        search.push(t.elapsed());
        by_kind[i % KINDS.len()].push(t.elapsed());
    }
    for (kind, samples) in KINDS.iter().zip(by_kind) {
        report(&format!("  search for {kind}"), samples);
    }
    report("search over every status", search);
    let t = Instant::now();
    let mut export = client
        .get(format!("{target}/admin/export.csv?status=ALL"))
        .header("Cookie", &session)
        .send()
        .await?;
    anyhow::ensure!(export.status() == 200, "export: {}", export.status());
    let (mut bytes, mut lines) = (0usize, 0usize);
    while let Some(chunk) = export.chunk().await? {
        bytes += chunk.len();
        lines += chunk.iter().filter(|b| **b == b'\n').count();
    }
    println!(
        "export of every registration: {} rows, {:.1} MB in {:.1} s",
        lines.saturating_sub(1),
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    let mut inquiry = Vec::new();
    for i in 0..requests {
        let body = serde_json::to_vec(
            &serde_json::json!({"registrationRequestId": format!("FILL-{}", ids[i % ids.len()])}),
        )?;
        let signed = sign_request(&signer, client_id, paths::INQUIRY, body)?;
        let t = Instant::now();
        let r = client
            .post(format!("{target}{}", paths::INQUIRY))
            .header("Content-Type", "application/json; charset=UTF-8")
            .header("Client-Id", client_id)
            .header("Request-Time", &signed.request_time)
            .header("Signature", &signed.signature)
            .body(signed.body)
            .send()
            .await?;
        r.bytes().await?;
        inquiry.push(t.elapsed());
    }
    report("inquiry by request id", inquiry);
    Ok(())
}
