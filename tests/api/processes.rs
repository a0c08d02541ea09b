//! The real binary as child processes: a work directory holding the test
//! keys, `serve` started and waited for, SIGKILL when a test asks (or when the
//! handle is dropped).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::*;

pub const BIN: &str = env!("CARGO_BIN_EXE_mpp-registrar");

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `MPP_DATA_DIR` for the processes of one test, with the fixture keys where
/// the dev-key defaults look for them.
pub struct Workdir {
    pub path: PathBuf,
}

impl Workdir {
    pub fn new(prefix: &str) -> Workdir {
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(path.join("keys/mpp")).unwrap();
        std::fs::create_dir_all(path.join("keys/alipay")).unwrap();
        for (from, to) in [
            ("keys/mpp_private_key.pem", "keys/mpp/private_key.pem"),
            ("keys/mpp_public_key.pem", "keys/mpp/public_key.pem"),
            (
                "test-vectors/private_key_pkcs8.pem",
                "keys/alipay/private_key.pem",
            ),
            ("test-vectors/public_key.pem", "keys/alipay/public_key.pem"),
        ] {
            std::fs::copy(fixture_path(from), path.join(to)).unwrap();
        }
        Workdir { path }
    }

    /// A process of the binary with this work directory and its test Client-Id.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env("MPP_DATA_DIR", &self.path)
            .env("MPP_CLIENT_ID", CLIENT_ID)
            .env(
                "MPP_PRIVATE_KEY_FILE",
                self.path.join("keys/mpp/private_key.pem"),
            )
            .env(
                "ALIPAY_PUBLIC_KEY_FILE",
                self.path.join("keys/alipay/public_key.pem"),
            )
            .stdin(Stdio::null());
        cmd
    }
}

/// A running `serve` process.
pub struct Serve {
    child: Killed,
    pub base: String,
    pub log: PathBuf,
}

impl Serve {
    /// Starts `serve` on a free port against `database_url` and waits until
    /// `/readyz` answers 200.
    pub async fn start(work: &Workdir, database_url: &str, env: &[(&str, &str)]) -> Serve {
        let port = free_port();
        let log = work.path.join(format!("serve-{port}.log"));
        let mut cmd = work.command();
        cmd.arg("serve")
            .env("MPP_LOG_FORMAT", "json")
            .env("DATABASE_URL", database_url)
            .env("MPP_LISTEN", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let serve = Serve {
            child: Killed(cmd.spawn().unwrap()),
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        let started = Instant::now();
        while reqwest::get(format!("{}/readyz", serve.base))
            .await
            .map(|r| r.status() != 200)
            .unwrap_or(true)
        {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "serve did not become ready: {}",
                std::fs::read_to_string(&serve.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        serve
    }

    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }

    pub fn peer(&self) -> Peer {
        Peer::new(self.base.clone())
    }

    /// Still running (not exited, not killed)?
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.0.try_wait(), Ok(None))
    }

    /// SIGKILL: no shutdown of any kind.
    pub fn kill(&mut self) {
        let _ = self.child.0.kill();
        let _ = self.child.0.wait();
    }
}

/// SIGKILL by process id, for a task that holds no handle.
pub fn kill_9(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
}
