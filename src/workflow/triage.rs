//! Triage at intake: screening a registration against the lists in force,
//! then routing it by the rules in force (`MPP_RULES_FILE`), or by
//! `MPP_APPROVAL_MODE` when there are none.
//!
//! Each instance holds the rules it read (at start and on SIGHUP) and the
//! lists it read from PostgreSQL. It asks PostgreSQL for the lists'
//! versions at most once every [`LISTS_RECHECK`] and reads them again when
//! one changed, so a list loaded on one machine is in force on every
//! instance within that time (`lists load` waits twice as long before it
//! re-screens stored registrations, see `commands::load_list`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use diesel::pg::PgConnection;
use serde_json::Value;

use crate::db::DbError;
use crate::db::screening::{self, hit_flag};
use crate::domain::registration::{Registration, validate};
use crate::domain::review::{FOUR_EYES_FLAG, RejectCode, flag_name};
use crate::domain::rules::{
    self, Action, ActionKind, Example, ExampleRequest, Facts, Policy, RulesError,
};
use crate::domain::screening::{Hit, Lists};
use crate::domain::{AUTO_REVIEWER, ApprovalMode};
use crate::protocol::registration::RegistrationRequest;

/// How often an instance asks whether a list has a new version.
pub const LISTS_RECHECK: Duration = Duration::from_secs(1);

/// The prefix of `decided_by` for a rule's decision: `rule:<id>`.
pub const RULE_ACTOR_PREFIX: &str = "rule:";

/// What the intake does with a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Approved at once (`SUCCESS`).
    Approve,
    /// Rejected at once (`REGISTRATION_IN_PROCESS`, then the rejection is notified).
    Reject { code: RejectCode, reason: String },
    /// PENDING for a person.
    Review,
}

/// The rule that decided and what it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleDecision {
    pub rule: String,
    pub action: ActionKind,
}

/// Triage's verdict on one registration.
#[derive(Debug, Clone, PartialEq)]
pub struct Triaged {
    pub route: Route,
    /// Who decided, for an approval or a rejection.
    pub decided_by: Option<String>,
    pub rule: Option<RuleDecision>,
    /// The rules' version when rules were in force.
    pub rules_version: Option<String>,
    /// Review flags to add: live list hits and the rules' flags.
    pub added_flags: Vec<String>,
    /// Every hit, with the dismissal that silences it, if any.
    pub hits: Vec<Hit>,
    pub dismissals: Vec<(usize, i64)>,
}

/// The rules and lists in force in this instance.
pub struct Triage {
    mode: ApprovalMode,
    rules_file: Option<PathBuf>,
    rules: RwLock<Option<Arc<Policy>>>,
    lists: RwLock<Arc<Lists>>,
    lists_checked: Mutex<Option<Instant>>,
    threshold: f64,
}

impl std::fmt::Debug for Triage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Triage")
            .field("mode", &self.mode)
            .field("rules_file", &self.rules_file)
            .finish_non_exhaustive()
    }
}

impl Triage {
    /// Reads the rules file, if any: one with an error refuses the start.
    pub fn new(
        mode: ApprovalMode,
        rules_file: Option<PathBuf>,
        threshold: f64,
    ) -> Result<Triage, RulesError> {
        let rules = rules_file.as_deref().map(load_rules).transpose()?;
        Ok(Triage {
            mode,
            rules_file,
            rules: RwLock::new(rules.map(Arc::new)),
            lists: RwLock::new(Arc::new(Lists::default())),
            lists_checked: Mutex::new(None),
            threshold,
        })
    }

    /// Reads the rules file again (SIGHUP). A file with an error is refused
    /// whole and the rules in force stay. Returns the new version.
    pub fn reload_rules(&self) -> Result<Option<String>, RulesError> {
        let Some(file) = &self.rules_file else {
            return Ok(None);
        };
        let policy = load_rules(file)?;
        let version = policy.version.clone();
        if let Ok(mut rules) = self.rules.write() {
            *rules = Some(Arc::new(policy));
        }
        Ok(Some(version))
    }

    /// The rules in force, if any.
    pub fn policy(&self) -> Option<Arc<Policy>> {
        self.rules.read().ok().and_then(|r| r.clone())
    }

    pub fn rules_file(&self) -> Option<&Path> {
        self.rules_file.as_deref()
    }

    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// The lists in force, read again when PostgreSQL has a newer version
    /// of one (asked at most once every [`LISTS_RECHECK`]).
    pub fn lists(&self, conn: &mut PgConnection) -> Result<Arc<Lists>, DbError> {
        let due = {
            let mut checked = self
                .lists_checked
                .lock()
                .map_err(|_| DbError::Worker("the lists' lock is poisoned".into()))?;
            let due = checked.is_none_or(|at| at.elapsed() >= LISTS_RECHECK);
            if due {
                *checked = Some(Instant::now());
            }
            due
        };
        let held = self
            .lists
            .read()
            .map_err(|_| DbError::Worker("the lists' lock is poisoned".into()))?
            .clone();
        if !due || screening::versions(conn)? == held.versions() {
            return Ok(held);
        }
        let fresh = Arc::new(screening::load(conn)?);
        tracing::info!(lists = ?fresh.versions(), "screening lists read");
        if let Ok(mut lists) = self.lists.write() {
            *lists = fresh.clone();
        }
        Ok(fresh)
    }

    /// Screens `r` and routes it. `changed` is `None` for a new merchant,
    /// else the field paths the update changes (left empty when no rules
    /// are in force: nothing reads them then).
    pub fn triage(
        &self,
        conn: &mut PgConnection,
        r: &Registration,
        changed: Option<Vec<String>>,
    ) -> Result<Triaged, DbError> {
        let lists = self.lists(conn)?;
        let hits = lists.screen(&r.subject, self.threshold);
        let dismissals = if hits.is_empty() {
            Vec::new()
        } else {
            screening::dismissed(conn, &r.reference_merchant_id, &hits)?
        };
        let live: BTreeSet<String> = hits
            .iter()
            .enumerate()
            .filter(|(i, _)| !dismissals.iter().any(|d| d.0 == *i))
            .map(|(_, h)| h.list.clone())
            .collect();
        let mut triaged = route(self.policy().as_deref(), self.mode, r, changed, &live);
        triaged.hits = hits;
        triaged.dismissals = dismissals;
        Ok(triaged)
    }
}

/// Routes a registration with live hits on the lists `live`, by `policy`
/// or, without one, by `mode`. Pure: the same for intake, `rules test` and
/// a file's examples.
pub fn route(
    policy: Option<&Policy>,
    mode: ApprovalMode,
    r: &Registration,
    changed: Option<Vec<String>>,
    live: &BTreeSet<String>,
) -> Triaged {
    let mut added_flags: Vec<String> = live.iter().map(|l| hit_flag(l)).collect();
    let Some(policy) = policy else {
        // Without rules, auto mode approves everything, except a listed party.
        let approve = mode == ApprovalMode::Auto && live.is_empty();
        return Triaged {
            route: if approve {
                Route::Approve
            } else {
                Route::Review
            },
            decided_by: approve.then(|| AUTO_REVIEWER.to_owned()),
            rule: None,
            rules_version: None,
            added_flags,
            hits: Vec::new(),
            dismissals: Vec::new(),
        };
    };
    let facts = facts(r, changed, live, &added_flags);
    let verdict = policy.evaluate(&facts);
    added_flags.extend(verdict.added_flags.iter().map(|f| format!("{f}: rule")));
    let rule = verdict.rule.as_ref().map(|id| RuleDecision {
        rule: id.clone(),
        action: verdict.action.kind(),
    });
    let decided_by = verdict
        .rule
        .as_ref()
        .map(|id| format!("{RULE_ACTOR_PREFIX}{id}"));
    let route = match verdict.action {
        Action::Approve => Route::Approve,
        Action::Reject { category, reason } => Route::Reject {
            code: category,
            reason,
        },
        Action::Review => Route::Review,
        Action::FourEyes => {
            let id = verdict.rule.as_deref().unwrap_or_default();
            added_flags.push(format!("{FOUR_EYES_FLAG}: rule {id}"));
            Route::Review
        }
    };
    let decides = matches!(route, Route::Approve | Route::Reject { .. });
    Triaged {
        route,
        decided_by: if decides { decided_by } else { None },
        rule,
        rules_version: Some(policy.version.clone()),
        added_flags,
        hits: Vec::new(),
        dismissals: Vec::new(),
    }
}

/// What the rules see of a registration.
pub fn facts(
    r: &Registration,
    changed: Option<Vec<String>>,
    live: &BTreeSet<String>,
    extra_flags: &[String],
) -> Facts {
    Facts {
        products: r.product_codes.clone(),
        mcc: r.merchant_mcc.clone(),
        region: r.region.clone(),
        changed,
        flags: r
            .review_flags
            .iter()
            .chain(extra_flags)
            .map(|f| flag_name(f).to_owned())
            .collect(),
        list_hits: live.clone(),
    }
}

/// Reads and checks a rules file, its examples included.
pub fn load_rules(path: &Path) -> Result<Policy, RulesError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| RulesError {
        file: file.clone(),
        line: 0,
        problem: format!("cannot read it: {e}"),
    })?;
    let policy = rules::parse(&file, &text)?;
    check_examples(&file, &policy)?;
    Ok(policy)
}

/// Refuses the policy when one of its examples gets another action than
/// the one it names.
pub fn check_examples(file: &str, policy: &Policy) -> Result<(), RulesError> {
    for example in &policy.examples {
        let refuse = |problem: String| RulesError {
            file: file.to_owned(),
            line: example.line,
            problem: format!("example {:?}: {problem}", example.name),
        };
        let r = example_registration(example).map_err(&refuse)?;
        let live: BTreeSet<String> = example.list_hits.iter().cloned().collect();
        let triaged = route(
            Some(policy),
            ApprovalMode::Manual,
            &r,
            example.changed.clone(),
            &live,
        );
        let got = triaged
            .rule
            .as_ref()
            .map_or(ActionKind::Review, |d| d.action);
        if got != example.expect {
            let by = triaged
                .rule
                .as_ref()
                .map_or("no rule decided".to_owned(), |d| {
                    format!("by rule {}", d.rule)
                });
            return Err(refuse(format!(
                "the rules {} it ({by}), the example expects {}",
                got.as_str(),
                example.expect.as_str()
            )));
        }
    }
    Ok(())
}

/// The built-in sample an example's `set` fields change: a plain new
/// restaurant in Hong Kong, online (`CASHIER_PAYMENT`), with no review flags.
pub const SAMPLE_REQUEST: &str = r#"{
  "registrationRequestId": "EXAMPLE-0001",
  "productCodes": ["CASHIER_PAYMENT"],
  "merchantInfo": {
    "referenceMerchantId": "EXAMPLE-M0001",
    "merchantDisplayName": "Example Noodles",
    "merchantMCC": "5812",
    "websites": [{"url": "https://noodles.example.com", "name": "Shop"}],
    "merchantAddress": {"region": "HK", "city": "Central", "address1": "1 Queen's Road"},
    "registrationDetail": {
      "legalName": "Example Noodles Limited",
      "registrationType": "ENTERPRISE_REGISTRATION_NO",
      "registrationNo": "10000001",
      "registrationAddress": {"region": "HK", "address1": "1 Queen's Road"},
      "businessType": "ENTERPRISE",
      "contactInfo": [{"contactNo": "ops@example.com", "contactType": "EMAIL"}]
    }
  }
}"#;

fn example_registration(example: &Example) -> Result<Registration, String> {
    let body: Value = match &example.request {
        ExampleRequest::Json(text) => {
            serde_json::from_str(text).map_err(|e| format!("request is not JSON: {e}"))?
        }
        ExampleRequest::Set(fields) => {
            let mut body: Value =
                serde_json::from_str(SAMPLE_REQUEST).map_err(|e| e.to_string())?;
            for (path, value) in fields {
                set_path(&mut body, path, value.clone())?;
            }
            body
        }
    };
    let request = RegistrationRequest::from_value(&body)
        .map_err(|e| format!("request is not a registration: {e}"))?;
    validate(&request).map_err(|e| format!("request is not valid: {e}"))
}

/// Sets the field at a dotted path (`merchantInfo.websites[0].url`),
/// making objects on the way.
fn set_path(body: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let mut at = body;
    for part in path.split('.') {
        let (key, index) = match part.split_once('[') {
            Some((key, rest)) => {
                let i = rest
                    .strip_suffix(']')
                    .and_then(|i| i.parse::<usize>().ok())
                    .ok_or_else(|| format!("set: bad path {path:?}"))?;
                (key, Some(i))
            }
            None => (part, None),
        };
        if !at.is_object() {
            *at = Value::Object(serde_json::Map::new());
        }
        let Value::Object(map) = at else {
            return Err(format!("set: bad path {path:?}"));
        };
        at = map.entry(key.to_owned()).or_insert(Value::Null);
        if let Some(i) = index {
            let Value::Array(items) = at else {
                return Err(format!("set: {path:?}: {key} is not a list"));
            };
            at = items
                .get_mut(i)
                .ok_or_else(|| format!("set: {path:?}: no item {i}"))?;
        }
    }
    *at = value;
    Ok(())
}

/// Whether `decided_by` names a rule, and which.
pub fn rule_of(decided_by: &str) -> Option<&str> {
    decided_by.strip_prefix(RULE_ACTOR_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
[[rule]]
id = "approve-low-risk"
when = { products_any = ["CASHIER_PAYMENT"], mcc_in = ["5811-5814"], region_in = ["HK"], kind = "new", flags = "none" }
then = "approve"

[[rule]]
id = "new-registration-number"
when = { kind = "update", changed_only = ["merchantInfo.registrationDetail.registrationNo"] }
then = "four_eyes"

[[example]]
name = "a plain restaurant"
set = {}
expect = "approve"

[[example]]
name = "a shop"
set = { "merchantInfo.merchantMCC" = "5999" }
expect = "review"

[[example]]
name = "a listed restaurant"
set = {}
list_hits = ["sanctions"]
expect = "review"

[[example]]
name = "a new registration number"
set = { "merchantInfo.registrationDetail.registrationNo" = "20000002" }
changed = ["merchantInfo.registrationDetail.registrationNo"]
expect = "four_eyes"
"#;

    #[test]
    fn a_files_examples_are_checked_and_a_wrong_one_names_itself() {
        let policy = rules::parse("rules.toml", POLICY).unwrap();
        check_examples("rules.toml", &policy).unwrap();
        let wrong = POLICY.replace("name = \"a shop\"\nset = { \"merchantInfo.merchantMCC\" = \"5999\" }\nexpect = \"review\"",
            "name = \"a shop\"\nset = { \"merchantInfo.merchantMCC\" = \"5999\" }\nexpect = \"approve\"");
        let policy = rules::parse("rules.toml", &wrong).unwrap();
        let err = check_examples("rules.toml", &policy).unwrap_err();
        assert!(err.problem.contains("example \"a shop\""), "{err}");
        assert!(err.problem.contains("expects approve"), "{err}");
        assert!(err.line > 1);
    }

    #[test]
    fn an_example_may_give_its_whole_request_as_json() {
        let text = format!(
            "{POLICY}\n[[example]]\nname = \"inline\"\nrequest = '''{SAMPLE_REQUEST}'''\nexpect = \"approve\"\n"
        );
        let policy = rules::parse("rules.toml", &text).unwrap();
        check_examples("rules.toml", &policy).unwrap();
        let broken = text.replace("\"merchantMCC\": \"5812\"", "\"merchantMCC\": 5812");
        let policy = rules::parse("rules.toml", &broken).unwrap();
        let err = check_examples("rules.toml", &policy).unwrap_err();
        assert!(
            err.problem
                .contains("example \"inline\": request is not a registration"),
            "{err}"
        );
    }

    #[test]
    fn a_listed_party_is_never_approved_and_is_flagged() {
        let policy = rules::parse("rules.toml", POLICY).unwrap();
        let r = example_registration(&policy.examples[0]).unwrap();
        let live: BTreeSet<String> = ["sanctions".to_owned()].into();
        let t = route(Some(&policy), ApprovalMode::Manual, &r, None, &live);
        assert_eq!(t.route, Route::Review);
        assert_eq!(t.added_flags, ["list_hit: sanctions"]);
        let t = route(None, ApprovalMode::Auto, &r, None, &live);
        assert_eq!((t.route, t.decided_by), (Route::Review, None));
        let t = route(
            Some(&policy),
            ApprovalMode::Manual,
            &r,
            None,
            &BTreeSet::new(),
        );
        assert_eq!(t.route, Route::Approve);
        assert_eq!(t.decided_by.as_deref(), Some("rule:approve-low-risk"));
        assert_eq!(t.rules_version.as_deref(), Some(policy.version.as_str()));
    }
}
