//! A triage policy and a screening list of a realistic size, for the
//! benchmarks: `simulate policy` writes them, the micro benchmark builds
//! them in memory.

use std::fmt::Write as _;

const WORDS: &[&str] = &[
    "golden", "dragon", "pacific", "harbour", "orient", "star", "lucky", "silver", "phoenix",
    "jade", "eastern", "imperial", "royal", "summit", "unity", "global", "prime", "crown", "lotus",
    "bright", "victory", "ocean", "fortune", "pearl", "tiger", "crane", "maple", "cedar", "river",
    "mountain", "sunrise", "horizon", "bamboo", "emerald", "coral", "falcon", "meridian", "zenith",
    "aurora", "atlas",
];
const TRADES: &[&str] = &[
    "trading",
    "holdings",
    "logistics",
    "industries",
    "imports",
    "exports",
    "shipping",
    "capital",
    "resources",
    "ventures",
    "electronics",
    "textiles",
    "minerals",
    "energy",
    "consulting",
];
const FORMS: &[&str] = &[
    "Ltd",
    "Limited",
    "Co., Ltd.",
    "LLC",
    "Pte Ltd",
    "Inc",
    "Corp",
    "",
];

/// `count` distinct party names, the same every time (a fixed sequence).
pub fn names(count: usize) -> Vec<String> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = |n: usize| {
        // xorshift64*: deterministic and good enough to spread names.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    };
    (0..count)
        .map(|i| {
            let name = format!(
                "{} {} {} {}",
                WORDS[next(WORDS.len())],
                WORDS[next(WORDS.len())],
                TRADES[next(TRADES.len())],
                FORMS[next(FORMS.len())]
            );
            // The number keeps names distinct, as real lists' are.
            format!("{} {i}", name.trim())
        })
        .collect()
}

/// A rules file of `count` rules: flag and review rules on conditions the
/// benchmark's registrations rarely meet, then a last rule that sends the
/// rest to review, so every rule is tried for every registration.
pub fn rules(count: usize) -> String {
    let mut out = String::from("# A benchmark policy: every rule is tried.\n");
    for i in 0..count.saturating_sub(1) {
        let mcc = 3000 + i * 10;
        let rule = match i % 5 {
            0 => format!(
                "when = {{ mcc_in = [\"{mcc}-{}\"], region_in = [\"JP\", \"KR\"] }}\nthen = {{ flag = \"watch-{i}\" }}",
                mcc + 5
            ),
            1 => format!(
                "when = {{ products_all = [\"IN_STORE_PAYMENT\", \"AGREEMENT_PAYMENT\"], mcc_in = [\"{mcc}\"] }}\nthen = \"four_eyes\""
            ),
            2 => format!("when = {{ list_hit = \"list-{i}\" }}\nthen = \"review\""),
            3 => format!(
                "when = {{ kind = \"update\", changed_only = [\"merchantInfo.websites\"], mcc_in = [\"{mcc}\"] }}\nthen = \"approve\""
            ),
            _ => format!(
                "when = {{ flags = {{ present = [\"watch-{i}\"] }}, region_in = [\"US\"] }}\nthen = {{ reject = {{ category = \"REJECT_FOR_RISK\", reason = \"Rule {i}.\" }} }}"
            ),
        };
        let _ = write!(out, "\n[[rule]]\nid = \"rule-{i:02}\"\n{rule}\n");
    }
    out.push_str("\n[[rule]]\nid = \"review-the-rest\"\nwhen = {}\nthen = \"review\"\n");
    out
}
