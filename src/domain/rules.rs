//! Triage rules: an ordered policy read from a TOML file, tried against
//! the facts of a registration; the first decisive rule wins, and no match
//! means review by a person.
//!
//! ```toml
//! [[rule]]
//! id = "approve-low-risk"
//! when = { products_any = ["CASHIER_PAYMENT"], mcc_in = ["5811-5814"], region_in = ["HK"], kind = "new", flags = "none" }
//! then = "approve"
//!
//! [[rule]]
//! id = "new-registration-number"
//! when = { kind = "update", changed_only = ["merchantInfo.registrationDetail.registrationNo"] }
//! then = "four_eyes"
//! ```

use std::collections::BTreeSet;

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::review::RejectCode;
use crate::protocol::registration::ProductCode;

/// What a registration looks like to the rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub products: Vec<ProductCode>,
    pub mcc: String,
    pub region: Option<String>,
    /// `None` for a new merchant; for an update, the field paths it changes.
    pub changed: Option<Vec<String>>,
    /// The names of its review flags (the text before a flag's first ": ").
    pub flags: BTreeSet<String>,
    /// The screening lists it hits.
    pub list_hits: BTreeSet<String>,
}

/// What the policy does with a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Approve,
    Reject {
        category: RejectCode,
        reason: String,
    },
    Review,
    /// Review, and the decision needs a second reviewer.
    FourEyes,
}

impl Action {
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Approve => ActionKind::Approve,
            Action::Reject { .. } => ActionKind::Reject,
            Action::Review => ActionKind::Review,
            Action::FourEyes => ActionKind::FourEyes,
        }
    }
}

/// Which action, without its details: what is counted, stored and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ActionKind {
    Approve,
    Reject,
    Review,
    FourEyes,
}

impl ActionKind {
    pub const ALL: [ActionKind; 4] = [
        ActionKind::Approve,
        ActionKind::Reject,
        ActionKind::Review,
        ActionKind::FourEyes,
    ];

    /// The name in rules files, `triage_action` and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Approve => "approve",
            ActionKind::Reject => "reject",
            ActionKind::Review => "review",
            ActionKind::FourEyes => "four_eyes",
        }
    }

    pub fn parse(s: &str) -> Option<ActionKind> {
        ActionKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The policy's verdict on one registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub action: Action,
    /// The rule that decided; `None`: no rule did (review by a person).
    pub rule: Option<String>,
    /// Flags the rules added on the way.
    pub added_flags: Vec<String>,
    /// An approving rule matched but a list hit overrode it.
    pub approval_withheld: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Decide(Action),
    Flag(String),
}

/// One inclusive range of MCCs (a single code is a range of one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MccRange(u16, u16);

#[derive(Debug, Clone, PartialEq, Eq)]
enum FlagCondition {
    None,
    Names {
        present: Vec<String>,
        absent: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    New,
    Update,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Conditions {
    products_any: Vec<ProductCode>,
    products_all: Vec<ProductCode>,
    mcc_in: Vec<MccRange>,
    region_in: Vec<String>,
    kind: Option<Kind>,
    changed_only: Vec<String>,
    flags: Option<FlagCondition>,
    list_hit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    /// The rule as written in the file.
    pub source: String,
    when: Conditions,
    then: Step,
}

/// A checked policy and the SHA-256 of the file it came from (its version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub rules: Vec<Rule>,
    pub version: String,
    /// The file's own examples: requests and what the rules must do with them.
    pub examples: Vec<Example>,
}

/// A request the policy must take a given action on (`[[example]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub name: String,
    pub line: usize,
    pub request: ExampleRequest,
    /// Makes it an update changing these field paths (else a new merchant).
    pub changed: Option<Vec<String>>,
    /// The lists it hits.
    pub list_hits: Vec<String>,
    /// The action the rules must take.
    pub expect: ActionKind,
}

/// How an example gives its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExampleRequest {
    /// A whole request body, as JSON text.
    Json(String),
    /// Field values (dotted paths) set over the built-in sample request.
    Set(Vec<(String, serde_json::Value)>),
}

/// Why a rules file was refused: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {problem}")]
pub struct RulesError {
    pub file: String,
    pub line: usize,
    pub problem: String,
}

// The file as written. Unknown keys are errors everywhere.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    rule: Vec<toml::Spanned<RawRule>>,
    #[serde(default)]
    example: Vec<toml::Spanned<RawExample>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExample {
    name: String,
    request: Option<String>,
    set: Option<toml::Table>,
    changed: Option<Vec<String>>,
    #[serde(default)]
    list_hits: Vec<String>,
    expect: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    when: RawWhen,
    then: RawThen,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawWhen {
    products_any: Option<Vec<String>>,
    products_all: Option<Vec<String>>,
    mcc_in: Option<Vec<String>>,
    region_in: Option<Vec<String>>,
    kind: Option<String>,
    changed_only: Option<Vec<String>>,
    flags: Option<RawFlags>,
    list_hit: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawFlags {
    Word(String),
    Names {
        #[serde(default)]
        present: Vec<String>,
        #[serde(default)]
        absent: Vec<String>,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawThen {
    Word(String),
    Reject { reject: RawReject },
    Flag { flag: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReject {
    category: String,
    reason: String,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Parses and checks a rules file; the first problem refuses it whole.
pub fn parse(file: &str, text: &str) -> Result<Policy, RulesError> {
    let refuse = |line: usize, problem: String| RulesError {
        file: file.to_owned(),
        line,
        problem,
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
        refuse(line, e.message().to_owned())
    })?;
    let mut seen = BTreeSet::new();
    let mut rules = Vec::with_capacity(raw.rule.len());
    for spanned in raw.rule {
        let line = line_of(text, spanned.span().start);
        let source = table_source(text, spanned.span().start);
        let r = spanned.into_inner();
        let bad = |problem: String| refuse(line, format!("rule {:?}: {problem}", r.id));
        if r.id.trim().is_empty() || r.id.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(refuse(line, format!("rule id {:?}: must be a word", r.id)));
        }
        if !seen.insert(r.id.clone()) {
            return Err(bad("the id is used twice".into()));
        }
        let when = conditions(r.when).map_err(&bad)?;
        let then = step(r.then).map_err(&bad)?;
        rules.push(Rule {
            id: r.id,
            source,
            when,
            then,
        });
    }
    let mut examples = Vec::with_capacity(raw.example.len());
    for spanned in raw.example {
        let line = line_of(text, spanned.span().start);
        let e = spanned.into_inner();
        let bad = |problem: &str| refuse(line, format!("example {:?}: {problem}", e.name));
        let Some(expect) = ActionKind::parse(&e.expect) else {
            return Err(bad("expect is one of approve, reject, review, four_eyes"));
        };
        let request = match (e.request, e.set) {
            (Some(json), None) => ExampleRequest::Json(json),
            (None, set) => ExampleRequest::Set(
                set.unwrap_or_default()
                    .into_iter()
                    .map(|(path, value)| {
                        serde_json::to_value(value)
                            .map(|v| (path, v))
                            .map_err(|err| bad(&err.to_string()))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            (Some(_), Some(_)) => {
                return Err(bad(
                    "give either request (JSON) or set (fields over the sample), not both",
                ));
            }
        };
        examples.push(Example {
            name: e.name,
            line,
            request,
            changed: e.changed,
            list_hits: e.list_hits,
            expect,
        });
    }
    Ok(Policy {
        rules,
        version: hex(&Sha256::digest(text.as_bytes())),
        examples,
    })
}

/// The text of the table whose header starts at `start`: up to the next
/// table header, without the comments and blank lines before that header
/// (they introduce the next table).
fn table_source(text: &str, start: usize) -> String {
    let rest = text.get(start..).unwrap_or_default();
    let mut lines: Vec<&str> = Vec::new();
    for (i, line) in rest.lines().enumerate() {
        if i > 0 && line.trim_start().starts_with('[') {
            break;
        }
        lines.push(line);
    }
    while lines
        .last()
        .is_some_and(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        lines.pop();
    }
    lines.join("\n")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn products(codes: Option<Vec<String>>, key: &str) -> Result<Vec<ProductCode>, String> {
    codes
        .unwrap_or_default()
        .iter()
        .map(|c| ProductCode::parse(c).ok_or_else(|| format!("{key}: unknown product code {c:?}")))
        .collect()
}

fn mcc_range(text: &str) -> Result<MccRange, String> {
    let code = |s: &str| -> Result<u16, String> {
        let s = s.trim();
        if s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse()
                .map_err(|_| format!("mcc_in: {text:?} is not an MCC"))
        } else {
            Err(format!(
                "mcc_in: {text:?} is not an MCC or a range like \"5811-5814\""
            ))
        }
    };
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (code(a)?, code(b)?);
            if a > b {
                return Err(format!("mcc_in: {text:?} runs backwards"));
            }
            Ok(MccRange(a, b))
        }
        None => {
            let a = code(text)?;
            Ok(MccRange(a, a))
        }
    }
}

fn conditions(w: RawWhen) -> Result<Conditions, String> {
    Ok(Conditions {
        products_any: products(w.products_any, "products_any")?,
        products_all: products(w.products_all, "products_all")?,
        mcc_in: w
            .mcc_in
            .unwrap_or_default()
            .iter()
            .map(|m| mcc_range(m))
            .collect::<Result<_, _>>()?,
        region_in: w.region_in.unwrap_or_default(),
        kind: match w.kind.as_deref() {
            None => None,
            Some("new") => Some(Kind::New),
            Some("update") => Some(Kind::Update),
            Some(other) => {
                return Err(format!("kind: {other:?} is neither \"new\" nor \"update\""));
            }
        },
        changed_only: w.changed_only.unwrap_or_default(),
        flags: match w.flags {
            None => None,
            Some(RawFlags::Word(w)) if w == "none" => Some(FlagCondition::None),
            Some(RawFlags::Word(w)) => {
                return Err(format!(
                    "flags: {w:?}: write \"none\", or {{ present = [...], absent = [...] }}"
                ));
            }
            Some(RawFlags::Names { present, absent }) => {
                Some(FlagCondition::Names { present, absent })
            }
        },
        list_hit: w.list_hit,
    })
}

fn step(then: RawThen) -> Result<Step, String> {
    Ok(match then {
        RawThen::Word(w) => match w.as_str() {
            "approve" => Step::Decide(Action::Approve),
            "review" => Step::Decide(Action::Review),
            "four_eyes" => Step::Decide(Action::FourEyes),
            "reject" => {
                return Err(
                    "then: a rejection is written { reject = { category = \"...\", reason = \"...\" } }"
                        .into(),
                );
            }
            other => return Err(format!("then: unknown action {other:?}")),
        },
        RawThen::Reject { reject } => {
            let category = RejectCode::parse(&reject.category)
                .ok_or_else(|| format!("then: unknown rejection category {:?}", reject.category))?;
            let reason = reject.reason.trim();
            if reason.is_empty() || reason.chars().count() > super::review::MAX_REASON_CHARS {
                return Err("then: a rejection's reason is 1 to 1024 characters".into());
            }
            Step::Decide(Action::Reject {
                category,
                reason: reason.to_owned(),
            })
        }
        RawThen::Flag { flag } => {
            if flag.trim().is_empty() {
                return Err("then: a flag needs a name".into());
            }
            Step::Flag(flag)
        }
    })
}

impl Conditions {
    fn hold(&self, f: &Facts, flags: &BTreeSet<String>) -> bool {
        let any = self.products_any.is_empty()
            || self.products_any.iter().any(|p| f.products.contains(p));
        let all = self.products_all.iter().all(|p| f.products.contains(p));
        let mcc = self.mcc_in.is_empty()
            || f.mcc.parse::<u16>().is_ok_and(|m| {
                f.mcc.len() == 4 && self.mcc_in.iter().any(|r| (r.0..=r.1).contains(&m))
            });
        let region = self.region_in.is_empty()
            || f.region
                .as_deref()
                .is_some_and(|r| self.region_in.iter().any(|x| x.eq_ignore_ascii_case(r)));
        let kind = match self.kind {
            None => true,
            Some(Kind::New) => f.changed.is_none(),
            Some(Kind::Update) => f.changed.is_some(),
        };
        let changed_only = self.changed_only.is_empty()
            || f.changed.as_ref().is_some_and(|paths| {
                !paths.is_empty()
                    && paths.iter().all(|p| {
                        self.changed_only.iter().any(|allowed| {
                            p == allowed
                                || p.starts_with(&format!("{allowed}."))
                                || p.starts_with(&format!("{allowed}["))
                        })
                    })
            });
        let flag_ok = match &self.flags {
            None => true,
            Some(FlagCondition::None) => flags.is_empty(),
            Some(FlagCondition::Names { present, absent }) => {
                present.iter().all(|n| flags.contains(n))
                    && absent.iter().all(|n| !flags.contains(n))
            }
        };
        let listed = self
            .list_hit
            .as_ref()
            .is_none_or(|name| f.list_hits.contains(name));
        any && all && mcc && region && kind && changed_only && flag_ok && listed
    }
}

impl Policy {
    /// Tries the rules in order. A flag rule adds its flag and goes on; the
    /// first deciding rule ends it. A registration that hits a list is never
    /// approved by a rule: it goes to a person.
    pub fn evaluate(&self, facts: &Facts) -> Verdict {
        let mut flags = facts.flags.clone();
        let mut added = Vec::new();
        for rule in &self.rules {
            if !rule.when.hold(facts, &flags) {
                continue;
            }
            match &rule.then {
                Step::Flag(name) => {
                    if flags.insert(name.clone()) {
                        added.push(name.clone());
                    }
                }
                Step::Decide(Action::Approve) if !facts.list_hits.is_empty() => {
                    return Verdict {
                        action: Action::Review,
                        rule: None,
                        added_flags: added,
                        approval_withheld: true,
                    };
                }
                Step::Decide(action) => {
                    return Verdict {
                        action: action.clone(),
                        rule: Some(rule.id.clone()),
                        added_flags: added,
                        approval_withheld: false,
                    };
                }
            }
        }
        Verdict {
            action: Action::Review,
            rule: None,
            added_flags: added,
            approval_withheld: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
[[rule]]
id = "flag-hotels"
when = { mcc_in = ["7011"] }
then = { flag = "hotel" }

[[rule]]
id = "listed-for-risk"
when = { list_hit = "sanctions" }
then = { reject = { category = "REJECT_FOR_RISK", reason = "Listed." } }

[[rule]]
id = "approve-low-risk"
when = { products_any = ["CASHIER_PAYMENT"], mcc_in = ["5811-5814", "5999"], region_in = ["HK", "SG"], kind = "new", flags = "none" }
then = "approve"

[[rule]]
id = "new-registration-number"
when = { kind = "update", changed_only = ["merchantInfo.registrationDetail.registrationNo"] }
then = "four_eyes"
"#;

    fn facts() -> Facts {
        Facts {
            products: vec![ProductCode::CashierPayment],
            mcc: "5812".into(),
            region: Some("HK".into()),
            ..Facts::default()
        }
    }

    fn policy() -> Policy {
        parse("rules.toml", POLICY).unwrap()
    }

    #[test]
    fn each_rule_keeps_its_text_as_written() {
        let policy = policy();
        assert_eq!(
            policy.rules[0].source,
            "[[rule]]\nid = \"flag-hotels\"\nwhen = { mcc_in = [\"7011\"] }\nthen = { flag = \"hotel\" }"
        );
        assert!(policy.rules[3].source.ends_with("then = \"four_eyes\""));
    }

    #[test]
    fn the_first_deciding_rule_wins_and_no_match_is_review() {
        let p = policy();
        let v = p.evaluate(&facts());
        assert_eq!(
            (v.action, v.rule.as_deref()),
            (Action::Approve, Some("approve-low-risk"))
        );
        let mut other = facts();
        other.region = Some("TH".into());
        let v = p.evaluate(&other);
        assert_eq!((v.action, v.rule), (Action::Review, None));
        let mut mcc_edge = facts();
        mcc_edge.mcc = "5815".into();
        assert_eq!(p.evaluate(&mcc_edge).action, Action::Review);
    }

    #[test]
    fn flags_are_added_on_the_way_and_conditions_see_them() {
        let mut hotel = facts();
        hotel.mcc = "7011".into();
        let v = policy().evaluate(&hotel);
        assert_eq!(v.added_flags, ["hotel"]);
        assert_eq!(v.action, Action::Review);
    }

    #[test]
    fn a_list_hit_is_never_approved_by_a_rule() {
        let text = POLICY.replace("list_hit = \"sanctions\"", "list_hit = \"other\"");
        let p = parse("rules.toml", &text).unwrap();
        let mut listed = facts();
        listed.list_hits.insert("internal-deny".into());
        let v = p.evaluate(&listed);
        assert_eq!(v.action, Action::Review);
        assert!(v.approval_withheld);
        let mut sanctioned = facts();
        sanctioned.list_hits.insert("sanctions".into());
        assert!(matches!(
            policy().evaluate(&sanctioned).action,
            Action::Reject {
                category: RejectCode::RejectForRisk,
                ..
            }
        ));
    }

    #[test]
    fn an_update_touching_only_the_named_fields_matches_changed_only() {
        let mut update = facts();
        update.changed = Some(vec![
            "merchantInfo.registrationDetail.registrationNo".into(),
        ]);
        assert_eq!(policy().evaluate(&update).action, Action::FourEyes);
        update.changed = Some(vec![
            "merchantInfo.registrationDetail.registrationNo".into(),
            "merchantInfo.merchantMCC".into(),
        ]);
        assert_eq!(policy().evaluate(&update).action, Action::Review);
    }

    #[test]
    fn a_bad_file_is_refused_naming_the_line_and_the_problem() {
        for (text, line, problem) in [
            (
                "[[rule]]\nid = \"a\"\nwhen = { mcc = [\"5812\"] }\nthen = \"approve\"\n",
                3,
                "unknown field `mcc`",
            ),
            (
                "[[rule]]\nid = \"a\"\nwhen = {}\nthen = \"approve\"\n\n[[rule]]\nid = \"b\"\nwhen = { kind = \"old\" }\nthen = \"review\"\n",
                6,
                "kind: \"old\"",
            ),
            (
                "[[rule]]\nid = \"a\"\nwhen = { mcc_in = [\"5814-5811\"] }\nthen = \"approve\"\n",
                1,
                "runs backwards",
            ),
            (
                "[[rule]]\nid = \"a\"\nwhen = {}\nthen = \"accept\"\n",
                1,
                "unknown action",
            ),
            (
                "[[rule]]\nid = \"a\"\nwhen = {}\nthen = { reject = { category = \"NOPE\", reason = \"x\" } }\n",
                1,
                "unknown rejection category",
            ),
            (
                "[[rule]]\nid = \"a\"\nwhen = {}\nthen = \"review\"\n[[rule]]\nid = \"a\"\nwhen = {}\nthen = \"review\"\n",
                5,
                "used twice",
            ),
            ("[rule]\nid = 1\n", 1, ""),
        ] {
            let e = parse("policy.toml", text).unwrap_err();
            assert_eq!(e.file, "policy.toml");
            assert_eq!(e.line, line, "{e}");
            assert!(e.problem.contains(problem), "{e}");
        }
    }

    #[test]
    fn the_version_is_the_files_sha256() {
        let p = policy();
        assert_eq!(p.version.len(), 64);
        assert_ne!(
            p.version,
            parse("rules.toml", &format!("{POLICY}\n")).unwrap().version
        );
    }
}
