//! Building and running the server, and the commands around it.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;

use crate::admin::{self, AdminContext, password};
use crate::api::{self, AnswerSigner, ApsContext};
use crate::body_limit;
use crate::cli::{DatabaseArgs, ServeArgs};
use crate::config::{KeySources, Settings};
use crate::db;
use crate::housekeeping::Housekeeping;
use crate::metrics::Metrics;
use crate::notifier::{self, NotifierConfig, NotifierHandle};
use crate::pgcluster::PrivateCluster;
use crate::telemetry;
use crate::workflow::triage::Triage;

/// The database of the private cluster.
const PRIVATE_DATABASE: &str = "mpp_registrar";

/// How long any request may take to send its body (see `body_limit`).
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a sign-in waits for a free password-checking slot before it is
/// refused as busy.
const PASSWORD_CHECK_WAIT: Duration = Duration::from_secs(2);

/// Which routes a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Surface {
    /// Everything (`MPP_ADMIN_LISTEN` unset).
    All,
    /// What Alipay+ reaches: `/aps`, `/ams`, the API description and the probes.
    Partner,
    /// The admin pages, `/metrics` and the probes.
    BackOffice,
}

/// Bound, not yet running, HTTP servers (one per listener) with the notifier.
pub struct Application {
    port: u16,
    admin_port: Option<u16>,
    servers: Vec<Server>,
    notifier: Option<NotifierHandle>,
    housekeeping: Housekeeping,
    /// The rules to read again on SIGHUP, when this process handles signals.
    reload_on_hangup: Option<Arc<Triage>>,
}

/// Stops every listener of an application.
#[derive(Clone)]
pub struct AppHandle {
    servers: Vec<ServerHandle>,
}

impl AppHandle {
    /// `graceful` finishes in-flight requests first.
    pub async fn stop(&self, graceful: bool) {
        futures_util::future::join_all(self.servers.iter().map(|h| h.stop(graceful))).await;
    }
}

fn bind(address: &str, setting: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address).with_context(|| format!("{setting}: cannot bind {address}"))
}

/// The bound sockets of `MPP_LISTEN` and `MPP_ADMIN_LISTEN`.
pub struct Listeners {
    main: TcpListener,
    admin: Option<TcpListener>,
}

impl Listeners {
    /// Binds both addresses (port 0 picks a free one). `serve` does this
    /// before anything else, so a taken port is reported at once and before
    /// keys, a cluster or migrations are made.
    pub fn bind(listen: &str, admin_listen: Option<&str>) -> anyhow::Result<Listeners> {
        let main = bind(listen.trim(), "MPP_LISTEN")?;
        let admin = admin_listen
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(|a| bind(a, "MPP_ADMIN_LISTEN"))
            .transpose()?;
        Ok(Listeners { main, admin })
    }
}

impl Application {
    /// Binds the listeners (port 0 picks a free one) and assembles the app.
    pub fn build(settings: &Settings, database_url: &str) -> anyhow::Result<Application> {
        let listeners = Listeners::bind(&settings.listen, settings.admin_listen.as_deref())?;
        Application::build_on(settings, database_url, listeners)
    }

    /// Assembles the app on listeners bound earlier.
    pub fn build_on(
        settings: &Settings,
        database_url: &str,
        listeners: Listeners,
    ) -> anyhow::Result<Application> {
        let Listeners {
            main: listener,
            admin: admin_listener,
        } = listeners;
        let port = listener.local_addr()?.port();
        let admin_port = match &admin_listener {
            Some(l) => Some(l.local_addr()?.port()),
            None => None,
        };
        let pool = db::build_pool(database_url, settings.db_pool_size, settings.db_timeouts);
        let metrics = Arc::new(Metrics::default());
        let triage = Arc::new(
            Triage::new(
                settings.approval_mode,
                settings.rules_file.clone(),
                settings.screening_threshold,
            )
            .context("MPP_RULES_FILE")?,
        );
        if let Some(policy) = triage.policy() {
            tracing::info!(rules = policy.rules.len(), version = %policy.version, "triage rules in force");
        }
        let wake = Arc::new(tokio::sync::Notify::new());
        let aps = web::Data::new(ApsContext {
            client_id: settings.client_id.clone(),
            psp_name: settings.psp_name.clone(),
            answers: AnswerSigner::new(settings.signer.clone(), settings.signature_reuse),
            alipay_keys: settings.alipay_keys.clone(),
            triage: triage.clone(),
            max_body_bytes: settings.max_body_bytes,
            request_time_window: settings.request_time_window,
            pool: pool.clone(),
            intake_groups: Arc::default(),
            db_timeouts: settings.db_timeouts,
            notify_policy: settings.notify.policy(),
            notifier_wake: wake.clone(),
            metrics: metrics.clone(),
        });
        let admin = web::Data::new(AdminContext {
            pool: aps.pool.clone(),
            db_timeouts: settings.db_timeouts,
            secure_cookies: settings.admin.secure_cookies,
            session_idle: settings.admin.session_idle,
            session_max_age: settings.admin.session_max_age,
            reason_templates: settings.admin.reason_templates.clone(),
            trust_forwarded_for: settings.admin.trust_forwarded_for,
            dummy_password_hash: password::dummy_hash()?,
            passwords: password::Verifier::per_core(PASSWORD_CHECK_WAIT),
            notify_policy: settings.notify.policy(),
            mfa: settings.admin.mfa,
            sso: settings.admin.sso.clone(),
            discovery: admin::sso::Discovery::default(),
            password_sign_in: settings.admin.password_sign_in,
            secrets: admin::sealing::SecretBox::new(settings.signer.data_key())?,
            notifier_wake: wake.clone(),
            review_sla: settings.admin.review_sla,
            claim_ttl: settings.admin.claim_ttl,
            four_eyes: settings.admin.four_eyes,
            environment_label: settings.admin.environment_label.clone(),
            alipay_gateway_configured: settings.notify.alipay_gateway_url.is_some(),
            triage: triage.clone(),
        });
        let serve = |listener: TcpListener, surface: Surface| -> anyhow::Result<Server> {
            let (aps, admin, metrics) = (aps.clone(), admin.clone(), metrics.clone());
            let body_limit = settings.max_body_bytes;
            let mut server = HttpServer::new(move || {
                let (aps, admin, metrics) = (aps.clone(), admin.clone(), metrics.clone());
                App::new()
                    .wrap_fn(move |req, srv| {
                        use actix_web::dev::Service as _;
                        srv.call(body_limit::bound(req, BODY_READ_TIMEOUT, body_limit))
                    })
                    .wrap_fn(move |req, srv| telemetry::traced(req, srv, &metrics))
                    .configure(|cfg| match surface {
                        Surface::All => {
                            api::configure_partner(cfg, aps.clone());
                            api::configure_metrics(cfg, aps.clone());
                            admin::configure(cfg, admin.clone());
                        }
                        Surface::Partner => api::configure_partner(cfg, aps.clone()),
                        Surface::BackOffice => {
                            api::configure_probes(cfg, aps.clone());
                            api::configure_metrics(cfg, aps.clone());
                            admin::configure(cfg, admin.clone());
                        }
                    })
            })
            .listen(listener)?
            .shutdown_timeout(30);
            if !settings.handle_signals {
                server = server.disable_signals();
            }
            server = match (surface, settings.workers) {
                // A few reviewers need no worker per core.
                (Surface::BackOffice, _) => server.workers(1),
                (Surface::All | Surface::Partner, Some(workers)) => server.workers(workers),
                (Surface::All | Surface::Partner, None) => server,
            };
            Ok(server.run())
        };
        let servers = match admin_listener {
            None => vec![serve(listener, Surface::All)?],
            Some(admin_listener) => vec![
                serve(listener, Surface::Partner)?,
                serve(admin_listener, Surface::BackOffice)?,
            ],
        };
        let notifier = match settings.notify.workers_enabled {
            true => Some(notifier::start(NotifierConfig {
                pool,
                database_url: database_url.to_owned(),
                db_timeouts: settings.db_timeouts,
                policy: settings.notify.policy(),
                alipay_gateway_url: settings.notify.alipay_gateway_url.clone(),
                client_id: settings.client_id.clone(),
                signer: settings.signer.clone(),
                alipay_keys: settings.alipay_keys.clone(),
                allow_private_targets: settings.notify.allow_private_targets,
                ssl_cert_file: settings.notify.ssl_cert_file.clone(),
                lease: settings.notify.lease,
                concurrency: settings.notify.concurrency,
                poll_interval: settings.notify.poll_interval,
                connect_timeout: settings.notify.timeout.min(Duration::from_secs(5)),
                request_timeout: settings.notify.timeout,
                metrics,
                wake,
            })?),
            false => None,
        };
        let housekeeping = Housekeeping {
            pool: aps.pool.clone(),
            db_timeouts: settings.db_timeouts,
            session_idle: settings.admin.session_idle,
            session_max_age: settings.admin.session_max_age,
        };
        Ok(Application {
            port,
            admin_port,
            servers,
            notifier,
            housekeeping,
            reload_on_hangup: settings.handle_signals.then_some(triage),
        })
    }

    /// The port of `MPP_LISTEN`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of `MPP_ADMIN_LISTEN`, when set.
    pub fn admin_port(&self) -> Option<u16> {
        self.admin_port
    }

    /// Stops the servers: `handle().stop(true)` finishes in-flight requests first.
    pub fn handle(&self) -> AppHandle {
        AppHandle {
            servers: self.servers.iter().map(Server::handle).collect(),
        }
    }

    /// Runs until stopped by a signal (SIGTERM/SIGINT, gracefully) or the handle;
    /// then lets the notifier finish the attempts it has in flight.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let sweeping = self.housekeeping.start();
        let reloading = self
            .reload_on_hangup
            .map(|t| tokio::spawn(reload_rules_on_hangup(t)));
        let served = futures_util::future::join_all(self.servers).await;
        sweeping.abort();
        if let Some(reloading) = reloading {
            reloading.abort();
        }
        if let Some(notifier) = self.notifier {
            notifier.shutdown(Duration::from_secs(30)).await;
        }
        served.into_iter().collect()
    }
}

/// Reads the rules file again at each SIGHUP. A file with an error is
/// refused whole, said in the log, and the rules in force stay.
async fn reload_rules_on_hangup(triage: Arc<Triage>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGHUP: the rules are read at start only");
            return;
        }
    };
    while hangups.recv().await.is_some() {
        match triage.reload_rules() {
            Ok(Some(version)) => {
                tracing::info!(%version, "SIGHUP: triage rules read again and in force")
            }
            Ok(None) => tracing::info!("SIGHUP: no MPP_RULES_FILE, nothing to read"),
            Err(e) => tracing::error!(
                error = %e,
                "SIGHUP: the rules file was refused; the rules in force stay"
            ),
        }
    }
}

/// The database to use: DATABASE_URL, or the private cluster (started here if needed).
pub fn resolve_database(args: &DatabaseArgs) -> anyhow::Result<(String, Option<PrivateCluster>)> {
    match args
        .database_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        Some(url) => {
            crate::config::check_database_url(url).context("DATABASE_URL")?;
            Ok((url.to_owned(), None))
        }
        None => {
            let root = args.data_dir.join("postgres");
            let cluster = PrivateCluster::ensure(&root, PRIVATE_DATABASE).with_context(|| {
                format!(
                    "DATABASE_URL is unset; the private cluster under {}",
                    root.display()
                )
            })?;
            tracing::info!(dir = %root.display(), port = cluster.port(), "using the private PostgreSQL cluster");
            let url = cluster.url(PRIVATE_DATABASE);
            Ok((url, Some(cluster)))
        }
    }
}

/// `mpp-registrar serve`.
pub async fn serve(args: &ServeArgs) -> anyhow::Result<()> {
    let listeners = Listeners::bind(&args.listen, args.admin_listen.as_deref())?;
    let (settings, keys) = Settings::from_args(args)?;
    let (database_url, cluster) = resolve_database(&args.database)?;
    let result = serve_with(&settings, &keys, &database_url, listeners).await;
    if let Some(cluster) = cluster
        && let Err(e) = cluster.stop()
    {
        tracing::warn!(error = %e, "could not stop the private cluster");
    }
    result
}

async fn serve_with(
    settings: &Settings,
    keys: &KeySources,
    database_url: &str,
    listeners: Listeners,
) -> anyhow::Result<()> {
    let url = database_url.to_owned();
    let (applied, accounts) = tokio::task::spawn_blocking(move || {
        let applied = db::run_migrations(&url)?;
        let accounts = db::users::count_users(&mut db::connect_as_app(&url)?)?;
        anyhow::Ok((applied, accounts))
    })
    .await??;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "applied migrations");
    }
    let app = Application::build_on(settings, database_url, listeners)?;
    announce(settings, keys, app.port(), app.admin_port(), accounts);
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

/// `http://host:port` of a listen address and its bound port; an unspecified
/// host (0.0.0.0, [::]) is shown as 127.0.0.1, where it can be opened.
fn base_url(listen: &str, port: u16) -> String {
    let host = listen
        .trim()
        .rsplit_once(':')
        .map(|(h, _)| h)
        .filter(|h| !matches!(*h, "" | "0.0.0.0" | "[::]"))
        .unwrap_or("127.0.0.1");
    format!("http://{host}:{port}")
}

fn announce(
    settings: &Settings,
    keys: &KeySources,
    port: u16,
    admin_port: Option<u16>,
    accounts: i64,
) {
    let address = base_url(&settings.listen, port);
    let admin = match (&settings.admin_listen, admin_port) {
        (Some(listen), Some(admin_port)) => base_url(listen, admin_port),
        _ => address.clone(),
    };
    tracing::info!(
        address = %address,
        client_id = %settings.client_id,
        key_version = settings.signer.key_version(),
        private_key = %keys.private_key.display(),
        approval_mode = ?settings.approval_mode,
        "mpp-registrar is listening"
    );
    if let Some(public) = &keys.public_key {
        tracing::info!(public_key = %public.display(), "development key pair in use: give this public key to Alipay+");
    }
    for (version, path) in &keys.alipay_public_keys {
        tracing::info!(key_version = version, path = %path.display(), "Alipay+ public key");
    }
    if let Some(private) = &keys.dev_alipay_private_key {
        tracing::info!(path = %private.display(), "development Alipay+ stand-in key (signs test requests)");
    }
    tracing::info!(url = %format!("{admin}/admin/login"), "admin pages");
    if accounts == 0 {
        tracing::warn!(
            command = "mpp-registrar user add --username NAME --role admin",
            "no accounts yet: create the first one with this command (same environment as the server; it reads the password from standard input)"
        );
    }
}

/// `mpp-registrar migrate`.
pub fn migrate(args: &DatabaseArgs) -> anyhow::Result<()> {
    let (database_url, cluster) = resolve_database(args)?;
    let result = db::run_migrations(&database_url);
    if let Some(cluster) = cluster {
        cluster.stop()?;
    }
    let applied = result?;
    tracing::info!(count = applied.len(), migrations = ?applied, "migrations applied");
    Ok(())
}
