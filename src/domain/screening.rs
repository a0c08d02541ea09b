//! Screening a merchant against lists: names compared in a form where
//! case, accents, punctuation, spacing, word order and legal forms (Ltd,
//! Limited, Co., LLC, Pte, 有限公司, ...) do not matter, and registration
//! numbers compared after normalisation.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;

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

/// The edit distance of `a` and `b` when it is at most `limit`, else
/// `None`: only the band of `limit` cells either side of the diagonal is
/// filled, and the work stops as soon as a whole row exceeds the limit.
/// Equal to the full Levenshtein distance whenever it returns a number.
fn edits_within(a: &[char], b: &[char], limit: usize, row: &mut Vec<usize>) -> Option<usize> {
    if a.len().abs_diff(b.len()) > limit {
        return None;
    }
    let over = limit + 1;
    // row[j]: distance of the current prefix of `a` and b[..j].
    row.clear();
    row.extend((0..=b.len()).map(|j| j.min(over)));
    for (i, &ca) in a.iter().enumerate() {
        let i = i + 1;
        let from = i.saturating_sub(limit).max(1);
        let to = (i + limit).min(b.len());
        let mut diagonal = row[from - 1];
        row[from - 1] = if from == 1 { i.min(over) } else { over };
        let mut best = row[from - 1];
        for j in from..=to {
            let up = row[j];
            let cost = usize::from(ca != b[j - 1]);
            let value = (diagonal + cost).min(up + 1).min(row[j - 1] + 1).min(over);
            diagonal = up;
            row[j] = value;
            best = best.min(value);
        }
        if to < b.len() {
            row[to + 1] = over;
        }
        if best > limit {
            return None;
        }
    }
    Some(row[b.len()]).filter(|&d| d <= limit)
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

/// What a list holds, and so what it is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
#[clap(rename_all = "snake_case")]
pub enum ListKind {
    /// Party names, matched fuzzily against legal, display and store names.
    Names,
    /// Registration numbers, matched after normalisation.
    RegistrationNumbers,
    /// Domains, matched by registrable domain against websites and the notify URL.
    Domains,
}

impl ListKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ListKind::Names => "names",
            ListKind::RegistrationNumbers => "registration_numbers",
            ListKind::Domains => "domains",
        }
    }

    pub fn parse(s: &str) -> Option<ListKind> {
        [
            ListKind::Names,
            ListKind::RegistrationNumbers,
            ListKind::Domains,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// The key an entry of this kind is compared by; `None`: the entry can
    /// never match (nothing left after normalisation).
    pub fn key(self, entry: &str) -> Option<String> {
        match self {
            ListKind::Names => Some(name_key(entry)).filter(|k| !k.is_empty()),
            ListKind::RegistrationNumbers => registration_number_key(entry),
            ListKind::Domains => registrable_domain(entry),
        }
    }
}

/// The registrable domain (the public suffix and one label more) of a URL
/// or a bare host name, lowered; `None` for an IP address or a public
/// suffix alone.
pub fn registrable_domain(text: &str) -> Option<String> {
    let text = text.trim();
    let with_scheme = if text.contains("://") {
        text.to_owned()
    } else {
        format!("http://{text}")
    };
    let url = url::Url::parse(&with_scheme).ok()?;
    let url::Host::Domain(host) = url.host()? else {
        return None;
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    psl::domain_str(&host).map(str::to_owned)
}

/// The fields of a registration that screening looks at, each with its
/// JSON path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    pub names: Vec<(String, String)>,
    pub registration_number: Option<(String, String)>,
    pub urls: Vec<(String, String)>,
}

/// One entry of a list that a field matched.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub list: String,
    pub version: i32,
    pub entry: String,
    pub field: String,
    pub value: String,
    pub score: f64,
}

/// At most this many hits per list and field are kept: a name close to
/// hundreds of entries needs a person either way, and the work stays bounded.
const MAX_HITS_PER_FIELD: usize = 20;

struct Entry {
    text: String,
    /// The key's characters (names lists only).
    chars: Vec<char>,
    /// Which characters the key holds (see `char_bit`).
    mask: u64,
}

/// A character's bit in a key's character mask. Characters outside a-z,
/// 0-9 and space share bits: a mask may claim a character a key lacks,
/// never the other way round.
fn char_bit(c: char) -> u32 {
    match c {
        'a'..='z' => c as u32 - 'a' as u32,
        '0'..='9' => 26 + c as u32 - '0' as u32,
        ' ' => 36,
        _ => 37 + c as u32 % 27,
    }
}

fn char_mask(chars: &[char]) -> u64 {
    chars.iter().fold(0, |m, &c| m | 1 << char_bit(c))
}

/// One version of one list, indexed for matching.
pub struct List {
    pub name: String,
    pub kind: ListKind,
    pub version: i32,
    entries: Vec<Entry>,
    /// Entry indexes by key, for exact matches.
    exact: HashMap<String, Vec<u32>>,
    /// Names only: entry indexes by each character pair of their keys (an
    /// entry once per pair, in order), to find the few entries close to a name.
    pairs: HashMap<u64, Vec<u32>, BuildHasherDefault<PairHasher>>,
}

impl List {
    /// Indexes `entries` (original text and key).
    pub fn new(
        name: String,
        kind: ListKind,
        version: i32,
        entries: impl IntoIterator<Item = (String, String)>,
    ) -> List {
        // Entries in order of key length (names lists): each pair's entries
        // are then in that order too, and the entries of a length window are
        // one slice of each, found by binary search.
        let mut entries: Vec<(String, String)> = entries.into_iter().collect();
        if kind == ListKind::Names {
            entries.sort_by_key(|(_, key)| key.chars().count());
        }
        let mut list = List {
            name,
            kind,
            version,
            entries: Vec::with_capacity(entries.len()),
            exact: HashMap::new(),
            pairs: HashMap::default(),
        };
        for (text, key) in entries {
            let i = list.entries.len() as u32;
            let chars: Vec<char> = if kind == ListKind::Names {
                key.chars().collect()
            } else {
                Vec::new()
            };
            let mut seen = HashSet::new();
            for w in chars.windows(2) {
                if seen.insert((w[0], w[1])) {
                    list.pairs.entry(pair(w[0], w[1])).or_default().push(i);
                }
            }
            list.exact.entry(key).or_default().push(i);
            let mask = char_mask(&chars);
            list.entries.push(Entry { text, chars, mask });
        }
        list
    }

    /// The ids of the names entries whose keys are `lo` to `hi` characters long.
    fn ids_of_lengths(&self, lo: usize, hi: usize) -> std::ops::Range<u32> {
        let first = self.entries.partition_point(|e| e.chars.len() < lo);
        let end = self.entries.partition_point(|e| e.chars.len() <= hi);
        first as u32..end.max(first) as u32
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries whose keys equal `key`.
    fn exact(&self, key: &str) -> impl Iterator<Item = &Entry> {
        self.exact
            .get(key)
            .into_iter()
            .flatten()
            .map(|&i| &self.entries[i as usize])
    }

    /// The entries whose name keys are at least `threshold` alike to
    /// `key`, with their scores.
    ///
    /// Similarity `t` allows at most `d = (1 - t) * longer` edits, so an
    /// entry's length lies within `[q * t, q / t]` of the name's `q`, and
    /// at least `q - 1 - 2d` of the name's `q - 1` character pair positions
    /// occur in it (an edit destroys at most two). So it holds one of any
    /// `2d + 1` of those pairs: only the entries holding one of the `2d + 1`
    /// rarest are compared at all (the q-gram lemma with prefix filtering).
    fn close_names(&self, key: &str, threshold: f64) -> Vec<(&Entry, f64)> {
        let chars: Vec<char> = key.chars().collect();
        let q = chars.len();
        if q <= 3 || threshold >= 1.0 {
            return self.exact(key).map(|e| (e, 1.0)).collect();
        }
        // The bounds are widened by a hair: 4 / 0.8 is 4.999... in floating point.
        const HAIR: f64 = 1e-9;
        let lo = (q as f64 * threshold - HAIR).ceil() as usize;
        let hi = (q as f64 / threshold + HAIR).floor() as usize;
        let most_edits = ((1.0 - threshold) * hi as f64 + HAIR).floor() as isize;
        let needed = q as isize - 1 - 2 * most_edits;
        // Keys of three characters or fewer match only exactly (see similarity_of_keys).
        let window = self.ids_of_lengths(lo.max(4), hi);
        let in_window = |posting: &[u32]| -> std::ops::Range<usize> {
            posting.partition_point(|&i| i < window.start)
                ..posting.partition_point(|&i| i < window.end)
        };
        let candidates: Vec<u32> = if needed >= 1 {
            // An entry holding `needed` of the name's pair positions holds
            // one of any `positions - needed + 1` of them: take the rarest
            // within the length window.
            let mut postings: Vec<&[u32]> = chars
                .windows(2)
                .map(|w| {
                    let posting = self
                        .pairs
                        .get(&pair(w[0], w[1]))
                        .map_or(&[][..], Vec::as_slice);
                    &posting[in_window(posting)]
                })
                .collect();
            postings.sort_unstable_by_key(|p| p.len());
            let take = postings.len() + 1 - needed as usize;
            let mut ids: Vec<u32> = postings[..take]
                .iter()
                .flat_map(|p| p.iter().copied())
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        } else {
            window.collect()
        };
        // Each occurrence of a character the entry lacks costs an edit: a
        // count from the masks rules most candidates out before the distance.
        let mut occurrences = [0usize; 64];
        for &c in &chars {
            occurrences[char_bit(c) as usize] += 1;
        }
        let mask = char_mask(&chars);
        let mut row = Vec::new();
        let mut close: Vec<(&Entry, f64)> = candidates
            .into_iter()
            .map(|i| &self.entries[i as usize])
            .filter_map(|e| {
                let longer = q.max(e.chars.len());
                let limit = ((1.0 - threshold) * longer as f64 + HAIR).floor() as usize;
                let mut lacking = mask & !e.mask;
                let mut missing = 0;
                while lacking != 0 && missing <= limit {
                    missing += occurrences[lacking.trailing_zeros() as usize];
                    lacking &= lacking - 1;
                }
                if missing > limit {
                    return None;
                }
                let edits = edits_within(&chars, &e.chars, limit, &mut row)?;
                let score = 1.0 - edits as f64 / longer as f64;
                (score >= threshold).then_some((e, score))
            })
            .collect();
        close.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.text.cmp(&b.0.text)));
        close
    }

    fn screen(&self, subject: &Keyed<'_>, threshold: f64, hits: &mut Vec<Hit>) {
        let mut add = |field: &str, value: &str, found: &[(&Entry, f64)]| {
            hits.extend(found.iter().take(MAX_HITS_PER_FIELD).map(|(e, score)| Hit {
                list: self.name.clone(),
                version: self.version,
                entry: e.text.clone(),
                field: field.to_owned(),
                value: value.to_owned(),
                score: *score,
            }));
        };
        match self.kind {
            ListKind::Names => {
                // Names often share a key (a legal name and its display name):
                // each key is looked up once.
                let mut done: Vec<(&str, Vec<(&Entry, f64)>)> = Vec::new();
                for (field, value, key) in &subject.names {
                    if key.is_empty() {
                        continue;
                    }
                    if !done.iter().any(|(k, _)| k == key) {
                        done.push((key, self.close_names(key, threshold)));
                    }
                    if let Some((_, found)) = done.iter().find(|(k, _)| k == key) {
                        add(field, value, found);
                    }
                }
            }
            ListKind::RegistrationNumbers => {
                if let Some((field, value)) = &subject.subject.registration_number
                    && let Some(key) = registration_number_key(value)
                {
                    let found: Vec<_> = self.exact(&key).map(|e| (e, 1.0)).collect();
                    add(field, value, &found);
                }
            }
            ListKind::Domains => {
                for (field, value) in &subject.subject.urls {
                    if let Some(key) = registrable_domain(value) {
                        let found: Vec<_> = self.exact(&key).map(|e| (e, 1.0)).collect();
                        add(field, value, &found);
                    }
                }
            }
        }
    }
}

/// A subject with its names' keys made once for every list.
struct Keyed<'a> {
    subject: &'a Subject,
    names: Vec<(&'a str, &'a str, String)>,
}

/// A character pair as one number, the key of the pair index.
fn pair(a: char, b: char) -> u64 {
    (u64::from(a) << 32) | u64::from(b)
}

/// The pair index's hasher: its keys are two small numbers, so one
/// multiply spreads them well, where SipHash spends most of a lookup's time.
/// Nothing an outsider sends can grow a list's index: lists are the
/// operator's.
#[derive(Default)]
struct PairHasher(u64);

impl std::hash::Hasher for PairHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (n ^ (n >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// The lists in force, as one instance holds them.
#[derive(Default)]
pub struct Lists {
    pub lists: Vec<List>,
}

impl Lists {
    /// Every hit of `subject` on every list; names hit at `threshold` or above.
    pub fn screen(&self, subject: &Subject, threshold: f64) -> Vec<Hit> {
        let mut hits = Vec::new();
        if self.lists.is_empty() {
            return hits;
        }
        let keyed = Keyed {
            subject,
            names: subject
                .names
                .iter()
                .map(|(field, value)| (field.as_str(), value.as_str(), name_key(value)))
                .collect(),
        };
        for list in &self.lists {
            list.screen(&keyed, threshold, &mut hits);
        }
        hits
    }

    /// Each list's name and version.
    pub fn versions(&self) -> Vec<(String, i32)> {
        self.lists
            .iter()
            .map(|l| (l.name.clone(), l.version))
            .collect()
    }
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

    fn names_list(entries: &[&str]) -> Lists {
        let list = List::new(
            "sanctions".into(),
            ListKind::Names,
            3,
            entries
                .iter()
                .filter_map(|e| Some((e.to_string(), ListKind::Names.key(e)?))),
        );
        Lists { lists: vec![list] }
    }

    fn subject(name: &str) -> Subject {
        Subject {
            names: vec![(
                "merchantInfo.registrationDetail.legalName".into(),
                name.into(),
            )],
            ..Subject::default()
        }
    }

    #[test]
    fn a_names_list_finds_close_names_and_only_those() {
        let mut entries: Vec<String> = (0..5000)
            .map(|i| format!("Trading House Number {i}"))
            .collect();
        entries.push("Golden Dragon Trading Co., Ltd.".into());
        entries.push("Dragon".into());
        let refs: Vec<&str> = entries.iter().map(String::as_str).collect();
        let lists = names_list(&refs);
        let hits = lists.screen(&subject("GOLDEN DRAGON TRADINGS LIMITED"), 0.9);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].entry, "Golden Dragon Trading Co., Ltd.");
        assert_eq!((hits[0].list.as_str(), hits[0].version), ("sanctions", 3));
        assert!(hits[0].score >= 0.9 && hits[0].score < 1.0);
        assert!(
            lists
                .screen(&subject("Silver Phoenix Bakery"), 0.9)
                .is_empty()
        );
        // Short names match exactly or not at all.
        assert_eq!(lists.screen(&subject("dragon ltd"), 0.9).len(), 1);
        assert!(lists.screen(&subject("dragons"), 0.9).is_empty());
    }

    #[test]
    fn the_pair_filter_misses_nothing_a_full_comparison_finds() {
        let entries = [
            "abcdefghij",
            "abcdefghik",
            "bacdefghij",
            "abcdefgh",
            "abcdefghijkl",
            "zzcdefghij",
            "abcdxfghij",
            "abcd efghij",
        ];
        let lists = names_list(&entries);
        for threshold in [0.6, 0.75, 0.8, 0.9, 0.95] {
            for query in ["abcdefghij", "abcdefghijk", "abcdefgxij", "hij abcdefg"] {
                let found: HashSet<String> = lists
                    .screen(&subject(query), threshold)
                    .into_iter()
                    .map(|h| h.entry)
                    .collect();
                let expected: HashSet<String> = entries
                    .iter()
                    .filter(|e| name_similarity(query, e) >= threshold)
                    .map(|e| e.to_string())
                    .collect();
                assert_eq!(found, expected, "{query} at {threshold}");
            }
        }
    }

    #[test]
    fn on_random_names_the_filter_finds_exactly_what_comparing_all_finds() {
        let mut state: u64 = 42;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        let word = |next: &mut dyn FnMut(u64) -> u64| -> String {
            let len = 4 + next(12);
            (0..len)
                .map(|_| b"abcde fg"[next(8) as usize] as char)
                .collect()
        };
        let entries: Vec<String> = (0..800).map(|_| word(&mut next)).collect();
        let keys: Vec<String> = entries.iter().map(|e| name_key(e)).collect();
        let queries: Vec<String> = (0..100).map(|_| word(&mut next)).collect();
        let refs: Vec<&str> = entries.iter().map(String::as_str).collect();
        let lists = names_list(&refs);
        for threshold in [0.7, 0.8, 0.9] {
            for query in &queries {
                let hits = lists.screen(&subject(query), threshold);
                for h in &hits {
                    let full = name_similarity(query, &h.entry);
                    assert!((h.score - full).abs() < 1e-12, "{query:?} {h:?} {full}");
                }
                let found: HashSet<String> = hits.into_iter().map(|h| h.entry).collect();
                let query_key = name_key(query);
                let mut expected: Vec<String> = entries
                    .iter()
                    .zip(&keys)
                    .filter(|(_, k)| similarity_of_keys(&query_key, k) >= threshold)
                    .map(|(e, _)| e.clone())
                    .collect();
                expected.sort();
                expected.dedup();
                // At most MAX_HITS_PER_FIELD are kept, the closest first.
                if expected.len() <= MAX_HITS_PER_FIELD {
                    let expected: HashSet<String> = expected.into_iter().collect();
                    assert_eq!(found, expected, "{query:?} at {threshold}");
                } else {
                    assert_eq!(found.len(), MAX_HITS_PER_FIELD);
                }
            }
        }
    }

    #[test]
    fn registration_numbers_and_domains_match_exactly_after_normalisation() {
        let numbers = List::new(
            "deny".into(),
            ListKind::RegistrationNumbers,
            1,
            [("HK-555-0123".to_owned(), "HK5550123".to_owned())],
        );
        let domains = List::new(
            "bad-sites".into(),
            ListKind::Domains,
            1,
            ["evil.example.co.uk", "https://scam.com/path"]
                .into_iter()
                .filter_map(|e| Some((e.to_owned(), ListKind::Domains.key(e)?))),
        );
        let lists = Lists {
            lists: vec![numbers, domains],
        };
        let s = Subject {
            names: vec![],
            registration_number: Some((
                "merchantInfo.registrationDetail.registrationNo".into(),
                "hk 5550123".into(),
            )),
            urls: vec![
                (
                    "merchantInfo.websites[0].url".into(),
                    "https://shop.Example.co.uk/x".into(),
                ),
                (
                    "registrationNotifyUrl".into(),
                    "https://api.scam.com/notify".into(),
                ),
                (
                    "merchantInfo.websites[1].url".into(),
                    "https://example.com".into(),
                ),
            ],
        };
        let hits = lists.screen(&s, 0.9);
        let found: Vec<(&str, &str)> = hits
            .iter()
            .map(|h| (h.list.as_str(), h.field.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("deny", "merchantInfo.registrationDetail.registrationNo"),
                ("bad-sites", "merchantInfo.websites[0].url"),
                ("bad-sites", "registrationNotifyUrl"),
            ]
        );
        assert_eq!(registrable_domain("127.0.0.1"), None);
        assert_eq!(registrable_domain("co.uk"), None);
    }
}
