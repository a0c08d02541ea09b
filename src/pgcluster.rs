//! A private PostgreSQL cluster, for running with no DATABASE_URL (and for
//! test suites on machines where no server is running). Created once with
//! `initdb`, started with `pg_ctl`, listening on 127.0.0.1 only. As root, the
//! cluster runs as the `postgres` system user, since `initdb` refuses root.

use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use diesel::{Connection as _, PgConnection, RunQueryDsl as _};

pub struct PrivateCluster {
    root: PathBuf,
    data: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres_user: bool,
    started_here: bool,
}

impl PrivateCluster {
    /// Creates (once) and starts (unless running) the cluster under `root`, and
    /// makes sure `database` exists in it.
    pub fn ensure(root: &Path, database: &str) -> anyhow::Result<PrivateCluster> {
        let bin = find_bin_dir()?;
        let as_postgres_user = running_as_root();
        fs::create_dir_all(root).with_context(|| format!("cannot create {}", root.display()))?;
        let root = root.canonicalize()?;
        if as_postgres_user {
            give_to_postgres_user(&root)?;
        }
        let data = root.join("data");
        let mut cluster = PrivateCluster {
            port: 0,
            root,
            data,
            bin,
            as_postgres_user,
            started_here: false,
        };
        if !cluster.data.join("PG_VERSION").exists() {
            cluster.initdb()?;
        }
        cluster.port = cluster.read_or_pick_port()?;
        if !cluster.is_running() {
            cluster.start()?;
            cluster.started_here = true;
            cluster.stop_when_process_dies()?;
        }
        cluster.create_database(database)?;
        Ok(cluster)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Stops the cluster if this process started it.
    pub fn stop(&self) -> anyhow::Result<()> {
        if !self.started_here {
            return Ok(());
        }
        let status = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["stop", "-m", "fast", "-w"])
            .stdout(Stdio::null())
            .status()
            .context("cannot run pg_ctl stop")?;
        if !status.success() {
            bail!("pg_ctl stop failed ({status})");
        }
        Ok(())
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres_user {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    fn initdb(&self) -> anyhow::Result<()> {
        let output = self
            .command("initdb")
            .arg("-D")
            .arg(&self.data)
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale"])
            .output()
            .context("cannot run initdb")?;
        if !output.status.success() {
            bail!(
                "initdb failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }

    /// The port is chosen once and kept in `root/port`, so the cluster's URL
    /// stays the same across runs.
    fn read_or_pick_port(&self) -> anyhow::Result<u16> {
        let file = self.root.join("port");
        if let Ok(text) = fs::read_to_string(&file)
            && let Ok(port) = text.trim().parse()
        {
            return Ok(port);
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        fs::write(&file, port.to_string())
            .with_context(|| format!("cannot write {}", file.display()))?;
        Ok(port)
    }

    fn is_running(&self) -> bool {
        self.command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("status")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Starts the cluster's server (it must not be running).
    pub fn start(&self) -> anyhow::Result<()> {
        let log = self.root.join("postgres.log");
        let status = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o"])
            .arg(format!(
                "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''",
                self.port
            ))
            .arg("start")
            .stdout(Stdio::null())
            .status()
            .context("cannot run pg_ctl start")?;
        if !status.success() {
            bail!("pg_ctl start failed ({status}); see {}", log.display());
        }
        Ok(())
    }

    /// A watchdog shell that stops the cluster once this process is gone, even
    /// after a kill -9, so no orphaned cluster outlives its owner.
    fn stop_when_process_dies(&self) -> anyhow::Result<()> {
        let stop = self.command("pg_ctl");
        let mut argv: Vec<String> = std::iter::once(stop.get_program())
            .chain(stop.get_args())
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        argv.extend([
            "-D".into(),
            self.data.to_string_lossy().into_owned(),
            "stop".into(),
            "-m".into(),
            "fast".into(),
        ]);
        Command::new("sh")
            .arg("-c")
            .arg(r#"pid=$1; shift; while kill -0 "$pid" 2>/dev/null; do sleep 1; done; exec "$@" >/dev/null 2>&1"#)
            .arg("watchdog")
            .arg(std::process::id().to_string())
            .args(argv)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("cannot start the cluster watchdog")?;
        Ok(())
    }

    fn create_database(&self, database: &str) -> anyhow::Result<()> {
        let mut conn = connect_with_retry(&self.url("postgres"))?;
        let exists: i64 =
            diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
                .bind::<diesel::sql_types::Text, _>(database)
                .get_result::<Count>(&mut conn)?
                .n;
        if exists == 0 {
            diesel::sql_query(format!(
                "CREATE DATABASE \"{}\"",
                database.replace('"', "\"\"")
            ))
            .execute(&mut conn)?;
        }
        Ok(())
    }
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn connect_with_retry(url: &str) -> anyhow::Result<PgConnection> {
    let mut last = None;
    for _ in 0..50 {
        match PgConnection::establish(url) {
            Ok(conn) => return Ok(conn),
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(anyhow::anyhow!(
        "cannot connect to the private cluster: {}",
        last.map(|e| e.to_string()).unwrap_or_default()
    ))
}

/// A PostgreSQL program (pgbench, psql, ...) from PATH or the server's bin directory.
pub fn find_binary(name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join(name).is_file() {
                return Some(dir.join(name));
            }
        }
    }
    find_bin_dir()
        .ok()
        .map(|dir| dir.join(name))
        .filter(|p| p.is_file())
}

/// `initdb` and `pg_ctl` from PATH, else the newest `/usr/lib/postgresql/*/bin`.
fn find_bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
                return Ok(dir);
            }
        }
    }
    let mut candidates: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    candidates.sort();
    candidates.pop().map(|(_, bin)| bin).context(
        "DATABASE_URL is unset and no PostgreSQL server binaries were found (initdb and pg_ctl on PATH or in \
         /usr/lib/postgresql/*/bin); install PostgreSQL's server package or set DATABASE_URL",
    )
}

/// The owner of /proc/self is the effective user.
fn running_as_root() -> bool {
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn give_to_postgres_user(root: &Path) -> anyhow::Result<()> {
    let output = Command::new("id")
        .args(["-u", "postgres"])
        .output()
        .context("cannot run id")?;
    let uid: u32 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .context("running as root needs a `postgres` system user to own the private cluster")?;
    let output = Command::new("id")
        .args(["-g", "postgres"])
        .output()
        .context("cannot run id")?;
    let gid: u32 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .context("no group for the postgres user")?;
    std::os::unix::fs::chown(root, Some(uid), Some(gid))
        .with_context(|| format!("cannot hand {} to the postgres user", root.display()))
}
