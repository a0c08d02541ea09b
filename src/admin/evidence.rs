//! A registration request laid out as evidence: sections a compliance
//! reviewer reads in order, fields under human labels with their JSON path
//! in small print, and web addresses as safe links.

use crate::domain::changes::flatten;

/// One field of the request.
pub struct EvidenceField {
    pub label: String,
    pub path: String,
    pub value: String,
    /// `Some` when the value is an https URL: shown as a link to it.
    pub link: Option<String>,
}

pub struct EvidenceSection {
    pub title: &'static str,
    pub fields: Vec<EvidenceField>,
}

/// Sections by the path prefix of their fields, in reading order; a field
/// belongs to the longest prefix it starts with, so nothing is left out.
const SECTIONS: &[(&str, &[&str])] = &[
    (
        "Merchant",
        &[
            "merchantInfo",
            "merchantInfo.merchantAddress",
            "merchantInfo.logo",
        ],
    ),
    (
        "Legal name",
        &[
            "merchantInfo.registrationDetail",
            "merchantInfo.registrationDetail.legalName",
            "merchantInfo.registrationDetail.businessType",
        ],
    ),
    (
        "Registration number",
        &[
            "merchantInfo.registrationDetail.registrationType",
            "merchantInfo.registrationDetail.registrationNo",
            "merchantInfo.registrationDetail.registrationEffectiveDate",
            "merchantInfo.registrationDetail.registrationExpireDate",
        ],
    ),
    (
        "Registered address",
        &["merchantInfo.registrationDetail.registrationAddress"],
    ),
    ("Websites", &["merchantInfo.websites"]),
    ("Contacts", &["merchantInfo.registrationDetail.contactInfo"]),
    ("Store", &["storeInfo"]),
    (
        "Attachments",
        &["merchantInfo.registrationDetail.attachments"],
    ),
    ("Pass-through information", &["passThroughInfo"]),
    ("Request", &[""]),
];

/// Human names of the request's field names; others are spelled out from
/// their camel case.
const LABELS: &[(&str, &str)] = &[
    ("registrationRequestId", "Registration request ID"),
    ("productCodes", "Products"),
    ("referenceMerchantId", "Merchant ID"),
    ("merchantDisplayName", "Display name"),
    ("merchantMCC", "MCC"),
    ("storeMCC", "Store MCC"),
    ("referenceStoreId", "Store ID"),
    ("registrationNo", "Registration number"),
    ("registrationNotifyUrl", "Merchant notify URL"),
    ("registrationNotifyURL", "Merchant notify URL"),
    ("url", "URL"),
    ("logoUrl", "Logo URL"),
    ("contactNo", "Contact number"),
    ("zipCode", "Postcode"),
    ("address1", "Address line 1"),
    ("address2", "Address line 2"),
    ("passThroughInfo", "Pass-through information"),
    ("storeTerminalId", "Terminal ID"),
    ("storeOperatorId", "Operator ID"),
    ("storePhoneNo", "Store phone"),
    ("identificationId", "Identification ID"),
];

fn humanise(name: &str) -> String {
    if let Some((_, label)) = LABELS.iter().find(|(n, _)| *n == name) {
        return (*label).to_owned();
    }
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else if i == 0 {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// "merchantInfo.websites[1].url" → "Website 2: URL"-like labels: the last
/// name, with the number of the list item it belongs to.
fn label_of(path: &str) -> String {
    let last = path.rsplit('.').next().unwrap_or(path);
    let (name, index) = match last.split_once('[') {
        Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
        None => (last, None),
    };
    let item = path
        .rsplit('.')
        .nth(1)
        .and_then(|parent| parent.split_once('['))
        .and_then(|(_, rest)| rest.trim_end_matches(']').parse::<usize>().ok());
    match (index, item) {
        (Some(i), _) => format!("{} {}", humanise(name), i + 1),
        (None, Some(i)) => format!("#{} {}", i + 1, humanise(name)),
        (None, None) => humanise(name),
    }
}

/// An https URL to link to, or `None`: no other scheme is ever a link.
pub fn https_link(value: &str) -> Option<String> {
    let parsed = url::Url::parse(value.trim()).ok()?;
    (parsed.scheme() == "https" && parsed.host().is_some()).then(|| parsed.to_string())
}

fn belongs(path: &str, prefix: &str) -> bool {
    prefix.is_empty()
        || path == prefix
        || path.starts_with(&format!("{prefix}."))
        || path.starts_with(&format!("{prefix}["))
}

/// The request's fields in sections, in reading order.
pub fn sections(raw_request: &str) -> Vec<EvidenceSection> {
    let value: serde_json::Value = serde_json::from_str(raw_request).unwrap_or_default();
    let mut out: Vec<EvidenceSection> = SECTIONS
        .iter()
        .map(|(title, _)| EvidenceSection {
            title,
            fields: Vec::new(),
        })
        .collect();
    for field in flatten(&value) {
        let index = SECTIONS
            .iter()
            .enumerate()
            .flat_map(|(i, (_, prefixes))| prefixes.iter().map(move |p| (i, *p)))
            .filter(|(_, p)| belongs(&field.path, p))
            .max_by_key(|(_, p)| p.len())
            .map(|(i, _)| i)
            .unwrap_or(SECTIONS.len() - 1);
        out[index].fields.push(EvidenceField {
            label: label_of(&field.path),
            link: https_link(&field.value),
            path: field.path,
            value: field.value,
        });
    }
    out.retain(|s| !s.fields.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_urls_become_links() {
        assert_eq!(
            https_link("https://shop.example/a?b=1").as_deref(),
            Some("https://shop.example/a?b=1")
        );
        for value in [
            "http://shop.example",
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            "data:text/html,<b>x</b>",
            "//shop.example",
            "shop.example",
            "https:/",
        ] {
            assert_eq!(https_link(value), None, "{value}");
        }
    }

    #[test]
    fn fields_get_human_labels_and_sections() {
        let raw = r#"{"registrationRequestId":"R1","merchantInfo":{"referenceMerchantId":"M1",
            "websites":[{"url":"https://a.example"}],
            "registrationDetail":{"legalName":"Dragon Ltd","registrationNo":"123",
              "registrationAddress":{"region":"HK"}}},"passThroughInfo":"{}"}"#;
        let s = sections(raw);
        let titles: Vec<&str> = s.iter().map(|s| s.title).collect();
        assert_eq!(
            titles,
            [
                "Merchant",
                "Legal name",
                "Registration number",
                "Registered address",
                "Websites",
                "Pass-through information",
                "Request"
            ]
        );
        let website = &s[4].fields[0];
        assert_eq!(website.label, "#1 URL");
        assert_eq!(website.path, "merchantInfo.websites[0].url");
        assert_eq!(website.link.as_deref(), Some("https://a.example/"));
        assert_eq!(s[2].fields[0].label, "Registration number");
    }
}
