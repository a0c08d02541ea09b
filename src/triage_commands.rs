//! The operator commands of triage: `lists load`, `lists show` and
//! `rules test`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context as _, bail};
use diesel::pg::PgConnection;
use serde_json::Value;

use crate::cli::DatabaseArgs;
use crate::config::parse_duration;
use crate::db::{self, screening};
use crate::domain::ApprovalMode;
use crate::domain::changes::content_changes;
use crate::domain::registration::{Registration, flag_invisible_characters, validate};
use crate::domain::rules::ActionKind;
use crate::domain::screening::{List, ListKind, Lists, Subject};
use crate::domain::status::RegistrationStatus;
use crate::protocol::registration::RegistrationRequest;
use crate::startup::resolve_database;
use crate::workflow::triage::{LISTS_RECHECK, load_rules, route, rule_of};

/// Rows read at a time when going through stored registrations.
const BATCH: i64 = 2_000;

/// Runs `work` on the server's database as the application role, stopping
/// a private cluster started for it afterwards.
fn with_database<T>(
    database: &DatabaseArgs,
    work: impl FnOnce(&mut PgConnection) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let (url, cluster) = resolve_database(database)?;
    let result = (|| {
        db::run_migrations(&url)?;
        let mut conn = db::connect_as_app(&url)?;
        work(&mut conn)
    })();
    if let Some(cluster) = cluster {
        cluster.stop()?;
    }
    result
}

/// The entries of a list file: one a line, or one column of a CSV file.
pub fn read_entries(
    path: &Path,
    kind: ListKind,
    column: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let is_csv = column.is_some()
        || path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if !is_csv {
        return Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect());
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .context("the CSV file has no header")?
        .clone();
    let wanted: Vec<&str> = match column {
        Some(c) => vec![c],
        None => vec![
            "entry",
            match kind {
                ListKind::Names => "name",
                ListKind::RegistrationNumbers => "registration_number",
                ListKind::Domains => "domain",
            },
            kind.as_str(),
        ],
    };
    let index = headers
        .iter()
        .position(|h| wanted.iter().any(|w| h.trim().eq_ignore_ascii_case(w)))
        .or_else(|| (column.is_none() && headers.len() == 1).then_some(0))
        .with_context(|| {
            format!(
                "no column named {} in the header ({}); name it with --column",
                wanted.join(" or "),
                headers.iter().collect::<Vec<_>>().join(", ")
            )
        })?;
    let mut entries = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let record = record.with_context(|| format!("CSV record {}", n + 2))?;
        if let Some(value) = record.get(index).map(str::trim).filter(|v| !v.is_empty()) {
            entries.push(value.to_owned());
        }
    }
    Ok(entries)
}

/// `mpp-registrar lists load`.
pub fn load_list(
    name: &str,
    kind: ListKind,
    file: &Path,
    column: Option<&str>,
    database: &DatabaseArgs,
) -> anyhow::Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        bail!("--name: 1 to 64 letters, digits, '.', '_' or '-'");
    }
    let read = read_entries(file, kind, column)?;
    let mut seen = BTreeSet::new();
    let mut entries = Vec::new();
    let mut unusable = Vec::new();
    for entry in read {
        if !seen.insert(entry.clone()) {
            continue;
        }
        match kind.key(&entry) {
            Some(key) => entries.push((entry, key)),
            None => unusable.push(entry),
        }
    }
    for entry in &unusable {
        eprintln!("skipped {entry:?}: nothing left to compare once normalised");
    }
    with_database(database, |conn| {
        let version = screening::replace(conn, name, kind, &entries)?;
        println!(
            "list {name} ({}) version {version}: {} entries",
            kind.as_str(),
            entries.len()
        );
        // Every serving instance reads the new version within LISTS_RECHECK;
        // registrations stored after this wait were screened against it.
        std::thread::sleep(LISTS_RECHECK * 2);
        let list = List::new(name.to_owned(), kind, version, entries);
        let lists = Lists { lists: vec![list] };
        rescreen(conn, &lists, version)
    })
}

/// Screens every PENDING and APPROVED registration against a new list
/// version, and prints the approved merchants that now hit.
fn rescreen(conn: &mut PgConnection, lists: &Lists, version: i32) -> anyhow::Result<()> {
    let threshold = screening_threshold();
    let (mut screened, mut pending, mut approved, mut after) = (0usize, 0usize, 0usize, 0i64);
    loop {
        let batch = screening::screened_batch(conn, after, BATCH)?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        for r in &batch {
            screened += 1;
            let Some(subject) = subject_of(&r.raw_request) else {
                continue;
            };
            let hits = lists.screen(&subject, threshold);
            if hits.is_empty() || !screening::record_rescreen(conn, r, &hits)? {
                continue;
            }
            match r.status {
                RegistrationStatus::Approved => {
                    approved += 1;
                    for h in &hits {
                        println!(
                            "APPROVED merchant {} ({}) now hits {} version {}: {:?} matches {} {:?} (score {:.2})",
                            r.reference_merchant_id,
                            r.registration_request_id,
                            h.list,
                            h.version,
                            h.entry,
                            h.field,
                            h.value,
                            h.score
                        );
                    }
                }
                _ => pending += 1,
            }
        }
    }
    println!(
        "re-screened {screened} PENDING and APPROVED registrations against version {version}: \
         {pending} PENDING newly flagged list_hit, {approved} APPROVED now hit (see ops.list_hits)"
    );
    Ok(())
}

/// `MPP_SCREENING_THRESHOLD`, as `serve` reads it.
fn screening_threshold() -> f64 {
    std::env::var("MPP_SCREENING_THRESHOLD")
        .ok()
        .and_then(|t| t.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0 && *t <= 1.0)
        .unwrap_or(0.9)
}

fn registration_of(raw_request: &str) -> Option<(Registration, Value)> {
    let body: Value = serde_json::from_str(raw_request).ok()?;
    let request = RegistrationRequest::from_value(&body).ok()?;
    let mut r = validate(&request).ok()?;
    flag_invisible_characters(&mut r, &body);
    Some((r, body))
}

fn subject_of(raw_request: &str) -> Option<Subject> {
    registration_of(raw_request).map(|(r, _)| r.subject)
}

/// `mpp-registrar lists show`.
pub fn show_lists(database: &DatabaseArgs) -> anyhow::Result<()> {
    let rows = with_database(database, |conn| Ok(screening::lists(conn)?))?;
    if rows.is_empty() {
        println!("no screening lists loaded");
        return Ok(());
    }
    println!(
        "{:<24} {:<21} {:>7} {:>9}  loaded at (UTC)",
        "list", "kind", "version", "entries"
    );
    for r in rows {
        println!(
            "{:<24} {:<21} {:>7} {:>9}  {}",
            r.name,
            r.kind,
            r.version,
            r.entries,
            r.loaded_at.format("%Y-%m-%d %H:%M:%S")
        );
    }
    Ok(())
}

/// What a person decided on a stored registration, if a person did.
fn human_decision(status: &str, decided_by: Option<&str>) -> Option<RegistrationStatus> {
    let by = decided_by?;
    if rule_of(by).is_some() || by == crate::domain::AUTO_REVIEWER {
        return None;
    }
    RegistrationStatus::parse(status).filter(|s| *s != RegistrationStatus::Pending)
}

/// `mpp-registrar rules test`: returns the exit code (1 when a rule would
/// approve a registration a person rejected).
pub fn test_rules(file: &Path, since: &str, database: &DatabaseArgs) -> anyhow::Result<u8> {
    let policy = load_rules(file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let window = parse_duration(since).context("--since")?;
    let since_at =
        chrono::Utc::now() - chrono::Duration::from_std(window).context("--since is too long")?;
    println!(
        "rules version {} ({} rules, {} examples checked)",
        policy.version,
        policy.rules.len(),
        policy.examples.len()
    );
    // rule -> action -> count; "" for registrations no rule decides.
    let mut counts: BTreeMap<String, BTreeMap<ActionKind, usize>> = BTreeMap::new();
    let mut disagreements: Vec<(String, String, ActionKind, RegistrationStatus)> = Vec::new();
    let (mut total, mut unreadable, mut after) = (0usize, 0usize, 0i64);
    with_database(database, |conn| {
        loop {
            let batch = screening::history_batch(conn, since_at, after, BATCH)?;
            let Some(last) = batch.last() else { break };
            after = last.id;
            for stored in batch {
                total += 1;
                let Some((r, body)) = registration_of(&stored.raw_request) else {
                    unreadable += 1;
                    continue;
                };
                let changed = stored.before_request.as_deref().map(|before| {
                    let before: Value = serde_json::from_str(before).unwrap_or(Value::Null);
                    content_changes(&before, &body)
                        .into_iter()
                        .map(|c| c.path)
                        .collect()
                });
                let live: BTreeSet<String> = stored.live_lists.into_iter().collect();
                let triaged = route(Some(&policy), ApprovalMode::Manual, &r, changed, &live);
                let Some(decision) = triaged.rule else {
                    *counts
                        .entry(String::new())
                        .or_default()
                        .entry(ActionKind::Review)
                        .or_default() += 1;
                    continue;
                };
                *counts
                    .entry(decision.rule.clone())
                    .or_default()
                    .entry(decision.action)
                    .or_default() += 1;
                let Some(human) = human_decision(&stored.status, stored.decided_by.as_deref())
                else {
                    continue;
                };
                let disagrees = match decision.action {
                    ActionKind::Approve => human != RegistrationStatus::Approved,
                    ActionKind::Reject => human == RegistrationStatus::Approved,
                    ActionKind::Review | ActionKind::FourEyes => false,
                };
                if disagrees {
                    disagreements.push((
                        stored.registration_request_id,
                        decision.rule,
                        decision.action,
                        human,
                    ));
                }
            }
        }
        Ok(())
    })?;
    println!(
        "{total} registrations received since {} UTC{}",
        since_at.format("%Y-%m-%d %H:%M"),
        if unreadable > 0 {
            format!(" ({unreadable} not readable, left out)")
        } else {
            String::new()
        }
    );
    println!();
    println!(
        "{:<32} {:>8} {:>8} {:>8} {:>10}",
        "rule", "approve", "reject", "review", "four_eyes"
    );
    let mut ids: Vec<&String> = policy.rules.iter().map(|r| &r.id).collect();
    let none = String::new();
    ids.push(&none);
    for id in ids {
        let c = counts.get(id.as_str());
        let n = |a: ActionKind| c.and_then(|c| c.get(&a)).copied().unwrap_or(0);
        let label = if id.is_empty() {
            "(no rule: a person reviews)"
        } else {
            id.as_str()
        };
        println!(
            "{label:<32} {:>8} {:>8} {:>8} {:>10}",
            n(ActionKind::Approve),
            n(ActionKind::Reject),
            n(ActionKind::Review),
            n(ActionKind::FourEyes)
        );
    }
    println!();
    let approved_rejections = disagreements
        .iter()
        .filter(|d| d.2 == ActionKind::Approve && d.3 == RegistrationStatus::Rejected)
        .count();
    if disagreements.is_empty() {
        println!("no disagreements with what people decided");
    } else {
        println!("disagreements with what people decided:");
        println!(
            "{:<40} {:<32} {:<14} human decision",
            "request id", "rule", "rule's action"
        );
        for (request_id, rule, action, human) in &disagreements {
            println!(
                "{request_id:<40} {rule:<32} {:<14} {}",
                action.as_str(),
                human.as_str()
            );
        }
        println!(
            "{} disagreement(s); {approved_rejections} approval(s) of registrations a person rejected",
            disagreements.len()
        );
    }
    Ok(u8::from(approved_rejections > 0))
}
