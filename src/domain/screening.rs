//! Screening a merchant against lists: names compared in a form where
//! case, accents, punctuation, spacing, word order and legal forms (Ltd,
//! Limited, Co., LLC, Pte, 有限公司, ...) do not matter, and registration
//! numbers compared after normalisation.

use unicode_normalization::UnicodeNormalization as _;
use unicode_normalization::char::is_combining_mark;

/// Legal forms that say nothing about who a company is, lowered and
/// without punctuation, as separate words.
const LEGAL_WORDS: &[&str] = &[
    "ltd",
    "limited",
    "co",
    "company",
    "llc",
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "pte",
    "plc",
    "gmbh",
    "sa",
    "sas",
    "sarl",
    "srl",
    "spa",
    "sdn",
    "bhd",
    "pty",
    "ag",
    "bv",
    "nv",
    "kk",
    "lp",
    "llp",
    "oy",
    "ab",
    "as",
    "tbk",
    "pt",
    "jsc",
    "ooo",
    "the",
];

/// Legal forms written inside a name without spaces (CJK), longest first.
const LEGAL_SUFFIXES: &[&str] = &[
    "股份有限公司",
    "有限责任公司",
    "有限責任公司",
    "有限公司",
    "株式会社",
    "有限会社",
    "주식회사",
    "公司",
];

/// A name in the form it is compared in: lowered, accents and punctuation
/// gone, legal forms dropped, words in order.
pub fn name_key(name: &str) -> String {
    let folded: String = name
        .nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let mut words: Vec<String> = folded
        .split_whitespace()
        .filter(|w| !LEGAL_WORDS.contains(w) && !LEGAL_SUFFIXES.contains(w))
        .map(|w| {
            let mut w = w.to_owned();
            for suffix in LEGAL_SUFFIXES {
                if w.len() > suffix.len()
                    && let Some(stem) = w.strip_suffix(suffix)
                {
                    w = stem.to_owned();
                    break;
                }
            }
            w
        })
        .filter(|w| !w.is_empty())
        .collect();
    words.sort_unstable();
    words.dedup();
    words.join(" ")
}

/// How alike two names are, from 0 to 1: 1 when their keys are equal, else
/// the normalised edit distance of the keys. Keys of three characters or
/// fewer only ever match exactly (short names match too much otherwise).
pub fn name_similarity(a: &str, b: &str) -> f64 {
    similarity_of_keys(&name_key(a), &name_key(b))
}

/// As `name_similarity`, for keys made already (a list's entries are keyed once).
pub fn similarity_of_keys(a: &str, b: &str) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    if a == b {
        return 1.0;
    }
    if a.chars().count() <= 3 || b.chars().count() <= 3 {
        return 0.0;
    }
    strsim::normalized_levenshtein(a, b)
}

/// A registration number as compared: ASCII letters and digits only, upper
/// case; `None` when fewer than three remain (too short to mean anything).
pub fn registration_number_key(number: &str) -> Option<String> {
    let key: String = number
        .nfkc()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (key.len() >= 3).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_accents_punctuation_spacing_order_and_legal_forms_do_not_matter() {
        let key = name_key("Golden Dragon Trading Co., Ltd.");
        for same in [
            "golden dragon trading",
            "GOLDEN  DRAGON TRADING LIMITED",
            "Trading, Golden-Dragon (Company)",
            "Gölden Dragon Trading LLC",
            "The Golden Dragon Trading Pte Ltd",
        ] {
            assert_eq!(name_key(same), key, "{same}");
        }
        assert_eq!(name_key("金龍飲食有限公司"), name_key("金龍飲食"));
        assert_eq!(name_key("金龍飲食 股份有限公司"), "金龍飲食");
    }

    #[test]
    fn near_names_score_high_and_others_low() {
        assert_eq!(
            name_similarity("Golden Dragon Ltd", "golden dragon limited"),
            1.0
        );
        assert!(name_similarity("Golden Dragon Trading", "Golden Dragon Tradings") >= 0.9);
        assert!(name_similarity("George Bush", "George Habbash") < 0.9);
        assert!(name_similarity("Emma LLC", "Emma Daniels") < 0.9);
        // Nothing left but legal forms, or too short to compare fuzzily.
        assert_eq!(name_similarity("Co. Ltd", "Co. Ltd"), 0.0);
        assert_eq!(name_similarity("ABC", "ABD"), 0.0);
    }

    #[test]
    fn registration_numbers_are_compared_by_their_letters_and_digits() {
        assert_eq!(
            registration_number_key("hk-555 0123").as_deref(),
            Some("HK5550123")
        );
        assert_eq!(registration_number_key("ＨＫ５５５"), Some("HK555".into()));
        assert_eq!(registration_number_key("1-2"), None);
    }
}
