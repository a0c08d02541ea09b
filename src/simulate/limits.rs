//! The machine's own limits, measured in the same run as a benchmark: RSA
//! rates (see `load::rsa_rates`) and PostgreSQL's durable insert rate for rows
//! of the registrations table's shape, with pgbench.

use std::io::Write as _;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, bail};
use diesel::connection::SimpleConnection as _;
use diesel::{Connection as _, PgConnection};

const TABLE: &str = "bench_insert_rate";

/// Durable single-row inserts per second into a table of `registrations`'
/// columns with only its primary key and the unique request id (no other
/// index, constraint or trigger): what PostgreSQL itself can insert on this
/// machine. By `clients` pgbench clients with prepared statements, over
/// `window`.
pub fn pg_insert_rate(database_url: &str, clients: usize, window: Duration) -> anyhow::Result<f64> {
    let pgbench = crate::pgcluster::find_binary("pgbench").context("pgbench not found")?;
    let mut conn = PgConnection::establish(database_url).context("cannot connect for pgbench")?;
    conn.batch_execute(&format!(
        "DROP TABLE IF EXISTS {TABLE}; DROP SEQUENCE IF EXISTS {TABLE}_id;
         CREATE SEQUENCE {TABLE}_id;
         CREATE TABLE {TABLE} (LIKE registrations INCLUDING DEFAULTS);
         ALTER TABLE {TABLE} ALTER COLUMN id SET DEFAULT nextval('{TABLE}_id'),
             ADD PRIMARY KEY (id), ADD UNIQUE (registration_request_id);"
    ))?;
    let script = format!(
        "\\set n random(1, 2000000000)\n\
         INSERT INTO {TABLE} (registration_request_id, client_id, status, reference_merchant_id, product_codes, \
         merchant_name, legal_name, merchant_mcc, region, review_flags) VALUES ('b-' || :client_id || '-' || :n, \
         'CLIENT', 'PENDING', 'M-' || :client_id || '-' || :n, '{{CASHIER_PAYMENT}}', 'Sample Shop', \
         'Sample Shop Limited', '5812', 'HK', '{{}}') ON CONFLICT DO NOTHING;\n"
    );
    let mut file = tempfile_in_target("pgbench-insert.sql")?;
    file.1.write_all(script.as_bytes())?;
    let output = Command::new(pgbench)
        .args([
            "-n",
            "-M",
            "prepared",
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-T",
            &window.as_secs().max(1).to_string(),
            "-f",
        ])
        .arg(&file.0)
        .arg(database_url)
        .output()
        .context("cannot run pgbench")?;
    let _ = conn.batch_execute(&format!(
        "DROP TABLE IF EXISTS {TABLE}; DROP SEQUENCE IF EXISTS {TABLE}_id"
    ));
    let _ = std::fs::remove_file(&file.0);
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    text.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .context("no tps in pgbench's output")
}

fn tempfile_in_target(name: &str) -> anyhow::Result<(std::path::PathBuf, std::fs::File)> {
    let path = std::env::temp_dir().join(format!("{}-{name}", std::process::id()));
    let file = std::fs::File::create(&path)?;
    Ok((path, file))
}

/// Resident memory of a process, now and at its peak, in MiB (Linux).
pub fn rss_mib(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<f64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
    };
    Some((field("VmRSS:")? / 1024.0, field("VmHWM:")? / 1024.0))
}
