//! A private PostgreSQL cluster, for running with no DATABASE_URL (and for
//! test suites on machines where no server is running). Created once with
//! `initdb`, started with `pg_ctl`. As root, the cluster runs as the
//! `postgres` system user, since `initdb` refuses root.
//!
//! Only its owner (and root) can reach it: it listens on no TCP port, only
//! on a Unix socket in a directory of mode 0700 that the cluster's owner
//! owns, and even there asks for a password (`scram-sha-256`), generated at
//! creation and kept in a file of mode 0600. No `trust` anywhere: another
//! local user can neither connect as the superuser nor read the password.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{
    DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _,
};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use diesel::{Connection as _, PgConnection, RunQueryDsl as _};
use sha2::Digest as _;

pub struct PrivateCluster {
    root: PathBuf,
    data: PathBuf,
    /// The directory of the Unix socket (mode 0700, the cluster owner's).
    socket_dir: PathBuf,
    bin: PathBuf,
    port: u16,
    password: String,
    /// `Some((uid, gid))` of the `postgres` user when running as root.
    owner: Option<(u32, u32)>,
    started_here: bool,
}

/// `pg_hba.conf`, rewritten at every start: the socket, with a password.
const HBA: &str = "# Written by mpp-registrar: only the cluster's Unix socket, with a password.\n\
                   local all all scram-sha-256\n";

impl PrivateCluster {
    /// Creates (once) and starts (unless running) the cluster under `root`, and
    /// makes sure `database` exists in it.
    pub fn ensure(root: &Path, database: &str) -> anyhow::Result<PrivateCluster> {
        let bin = find_bin_dir()?;
        let owner = match running_as_root() {
            true => Some(postgres_user()?),
            false => None,
        };
        fs::create_dir_all(root).with_context(|| format!("cannot create {}", root.display()))?;
        let root = root.canonicalize()?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&root, Some(uid), Some(gid))
                .with_context(|| format!("cannot hand {} to the postgres user", root.display()))?;
            reachable_by(&root, uid, gid)?;
        }
        let socket_dir = root.join("run");
        let data = root.join("data");
        let mut cluster = PrivateCluster {
            port: 0,
            password: String::new(),
            socket_dir,
            root,
            data,
            bin,
            owner,
            started_here: false,
        };
        cluster.port = cluster.read_or_pick_port()?;
        cluster.socket_dir = cluster.choose_socket_dir()?;
        let password_file = cluster.root.join("password");
        if !cluster.data.join("PG_VERSION").exists() {
            cluster.password = new_password()?;
            cluster.initdb()?;
            write_private(&password_file, &cluster.password)?;
        } else {
            match fs::read_to_string(&password_file) {
                Ok(text) => cluster.password = text.trim().to_owned(),
                // Made by a version that trusted local connections: give it a password.
                Err(_) => {
                    if cluster.is_running() {
                        cluster.stop_now()?;
                    }
                    cluster.password = new_password()?;
                    cluster.set_password()?;
                    write_private(&password_file, &cluster.password)?;
                }
            }
        }
        let socket = cluster
            .socket_dir
            .join(format!(".s.PGSQL.{}", cluster.port));
        if cluster.is_running() && !socket.exists() {
            // Started with the settings of an older version (TCP): restart.
            cluster.stop_now()?;
        }
        if !cluster.is_running() {
            cluster.prepare_socket_dir()?;
            fs::write(cluster.data.join("pg_hba.conf"), HBA)
                .with_context(|| format!("cannot write {}/pg_hba.conf", cluster.data.display()))?;
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

    /// The libpq URL of `database`: the socket directory as `host`, with the
    /// password. Never log it.
    pub fn url(&self, database: &str) -> String {
        let dir: String =
            url::form_urlencoded::byte_serialize(self.socket_dir.to_string_lossy().as_bytes())
                .collect();
        format!(
            "postgres://postgres:{}@localhost:{}/{database}?host={dir}",
            self.password, self.port
        )
    }

    /// Where the socket lives (for `psql -h`).
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// Stops the cluster if this process started it.
    pub fn stop(&self) -> anyhow::Result<()> {
        if !self.started_here {
            return Ok(());
        }
        self.stop_now()
    }

    fn stop_now(&self) -> anyhow::Result<()> {
        let status = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["stop", "-m", "fast", "-w"])
            .stdout(Stdio::null())
            .status()
            .context("cannot run pg_ctl stop")?;
        // Already stopped (by an operator, say) is stopped.
        if !status.success() && self.is_running() {
            bail!("pg_ctl stop failed ({status})");
        }
        Ok(())
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.owner.is_some() {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    fn initdb(&self) -> anyhow::Result<()> {
        // initdb reads the password from a file the cluster's owner can read;
        // it is gone again as soon as initdb is done.
        let pwfile = self.root.join(".initdb-password");
        write_private(&pwfile, &self.password)?;
        self.give_to_owner(&pwfile)?;
        let output = self
            .command("initdb")
            .arg("-D")
            .arg(&self.data)
            .arg(format!("--pwfile={}", pwfile.display()))
            .args([
                "-U",
                "postgres",
                "-A",
                "scram-sha-256",
                "-E",
                "UTF8",
                "--no-locale",
            ])
            .output()
            .context("cannot run initdb");
        let _ = fs::remove_file(&pwfile);
        let output = output?;
        if !output.status.success() {
            bail!(
                "initdb failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }

    /// Sets the superuser's password in single-user mode (the cluster is
    /// stopped): no connection, so no authentication, is involved.
    fn set_password(&self) -> anyhow::Result<()> {
        let mut child = self
            .command("postgres")
            .args(["--single", "-D"])
            .arg(&self.data)
            .arg("postgres")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot run postgres --single")?;
        if let Some(mut stdin) = child.stdin.take() {
            writeln!(stdin, "ALTER ROLE postgres PASSWORD '{}';", self.password)?;
        }
        let output = child.wait_with_output()?;
        if !output.status.success() {
            bail!(
                "cannot set the cluster's password: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }

    /// `root/run` when the socket's path fits in a Unix socket address (107
    /// bytes), else a directory under /tmp named after the owner and this
    /// cluster, which only the owner may enter (the scheme tmux and
    /// ssh-agent use): a deep MPP_DATA_DIR still works.
    fn choose_socket_dir(&self) -> anyhow::Result<PathBuf> {
        let socket_name = format!(".s.PGSQL.{}", self.port);
        let inside = self.root.join("run");
        if inside.join(&socket_name).as_os_str().len() <= MAX_SOCKET_PATH {
            return Ok(inside);
        }
        let uid = self.owner.map_or_else(effective_uid, |(uid, _)| uid);
        let parent = PathBuf::from(format!("/tmp/mpp-registrar-{uid}"));
        let digest = sha2::Sha256::digest(self.root.as_os_str().as_encoded_bytes());
        let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let dir = parent.join(name);
        if dir.join(&socket_name).as_os_str().len() > MAX_SOCKET_PATH {
            bail!("no socket path short enough for the private cluster");
        }
        match fs::DirBuilder::new().mode(0o700).create(&parent) {
            Ok(()) => self.give_to_owner(&parent)?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(e).with_context(|| format!("cannot create {}", parent.display()));
            }
        }
        // Someone else may have made it first to capture the socket: only
        // a real directory of the owner's, closed to everyone else, will do.
        let meta = fs::symlink_metadata(&parent)?;
        if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
            bail!(
                "{} must be a directory of mode 0700 owned by uid {uid}; it is not, so the private \
                 cluster's socket cannot be put there (remove it, or use a shorter MPP_DATA_DIR)",
                parent.display()
            );
        }
        Ok(dir)
    }

    /// The socket directory, mode 0700, the cluster owner's.
    fn prepare_socket_dir(&self) -> anyhow::Result<()> {
        fs::create_dir_all(&self.socket_dir)
            .with_context(|| format!("cannot create {}", self.socket_dir.display()))?;
        fs::set_permissions(&self.socket_dir, fs::Permissions::from_mode(0o700))?;
        self.give_to_owner(&self.socket_dir)
    }

    fn give_to_owner(&self, path: &Path) -> anyhow::Result<()> {
        if let Some((uid, gid)) = self.owner {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .with_context(|| format!("cannot hand {} to the postgres user", path.display()))?;
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
                "-p {} -c listen_addresses='' -c unix_socket_directories='{}' -c unix_socket_permissions=0700",
                self.port,
                self.socket_dir.display()
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
        // Only the server started here: once this process is gone, another
        // may have stopped it and started the cluster anew, and that server
        // is not ours to stop.
        let pid_file = self.data.join("postmaster.pid");
        let postmaster = fs::read_to_string(&pid_file)
            .ok()
            .and_then(|t| t.lines().next().map(str::to_owned))
            .unwrap_or_default();
        Command::new("sh")
            .arg("-c")
            .arg(
                r#"pid=$1; pm=$2; file=$3; shift 3
                   while kill -0 "$pid" 2>/dev/null; do sleep 1; done
                   [ "$(head -n 1 "$file" 2>/dev/null)" = "$pm" ] && exec "$@" >/dev/null 2>&1"#,
            )
            .arg("watchdog")
            .arg(std::process::id().to_string())
            .arg(postmaster)
            .arg(&pid_file)
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

/// PostgreSQL's limit on a Unix socket's path (sun_path less its NUL).
const MAX_SOCKET_PATH: usize = 107;

/// The owner of /proc/self is the effective user.
fn effective_uid() -> u32 {
    fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}

fn running_as_root() -> bool {
    effective_uid() == 0
}

/// The `postgres` user must pass through every directory above the cluster;
/// without this check `initdb` or `pg_ctl` fail later with a vaguer message.
fn reachable_by(root: &Path, uid: u32, gid: u32) -> anyhow::Result<()> {
    for dir in root.ancestors().skip(1) {
        let meta = fs::metadata(dir).with_context(|| format!("cannot read {}", dir.display()))?;
        let mode = meta.mode();
        let searchable = if meta.uid() == uid {
            mode & 0o100 != 0
        } else if meta.gid() == gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !searchable {
            bail!(
                "the postgres user, which runs the private cluster, cannot pass through {} \
                 (give it search permission, e.g. chmod o+x, or set MPP_DATA_DIR elsewhere)",
                dir.display()
            );
        }
    }
    Ok(())
}

/// The uid and gid of the `postgres` system user.
fn postgres_user() -> anyhow::Result<(u32, u32)> {
    let id = |flag: &str| -> anyhow::Result<u32> {
        let output = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .context("cannot run id")?;
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .context("running as root needs a `postgres` system user to own the private cluster")
    };
    Ok((id("-u")?, id("-g")?))
}

/// 256 random bits, hex: safe in a URL and in SQL quotes.
fn new_password() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| anyhow::anyhow!("no randomness"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes `text` to a new file of mode 0600.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    let _ = fs::remove_file(path);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}
