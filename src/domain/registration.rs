//! Validation of a registration request (registration.md §2, data-types.md,
//! resolutions A1, A5, A7, A18–A20) into the facts the wallet keeps about it.
//!
//! Hard rules refuse the request with the offending field's path. Soft rules
//! (values only third-party material requires, unknown nested enum values)
//! admit the request and leave a review flag for the reviewer.

use std::fmt::Display;

use serde_json::Value;

use super::screening::Subject;
use crate::protocol::limits;
use crate::protocol::registration::{
    Address, Attachment, ContactInfo, MerchantInfo, ProductCode, RegistrationDetail,
    RegistrationRequest, StoreInfo, WebSite,
};

/// A refused field: `path: problem`, e.g. `merchantInfo.merchantMCC: missing`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub problem: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

/// What a valid registration request says, in the wallet's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub registration_request_id: String,
    /// Sorted, without duplicates.
    pub product_codes: Vec<ProductCode>,
    pub reference_merchant_id: String,
    pub reference_store_id: Option<String>,
    /// What a reviewer calls the merchant: display name, else store name, else legal name.
    pub merchant_name: String,
    pub legal_name: String,
    pub merchant_mcc: String,
    /// Region of the merchant address, else of the store, else of the registered address.
    pub region: Option<String>,
    pub registration_notify_url: Option<String>,
    /// Things a reviewer should look at; never a reason to refuse.
    pub review_flags: Vec<String>,
    /// What the reviewers' search box looks through, one value a line: ids,
    /// names, the registration number and the websites, in lower case (the
    /// search lowers its term the same way, so both agree on every script).
    pub search_text: String,
    /// The names, registration number and URLs screening compares with lists.
    pub subject: Subject,
}

const REGISTRATION_TYPES: &[&str] = &[
    "ENTERPRISE_REGISTRATION_NO",
    "INDEPENDENT_CONTRACTOR_LICENSE_NO",
    "OTHER_IDENTIFICATION_NO",
    "US_FEDERAL_EIN",
];
const BUSINESS_TYPES: &[&str] = &["ENTERPRISE", "INDIVIDUAL"];
const CONTACT_TYPES: &[&str] = &[
    "EMAIL",
    "MOBILE_PHONE",
    "TELEPHONE",
    "PHONE_NO",
    "COMMERCIAL_PHONE_NO",
];
const ATTACHMENT_TYPES: &[&str] = &[
    "ARTICLES_OF_ASSOCIATION",
    "ENTERPRISES_ANNUAL_INSPECTION_REPORT",
    "PROOF_OF_ADDRESS",
    "REGISTRATION_CERTIFICATE",
    "SIGNATURE_AUTHORIZATION_LETTER",
    "LOGO",
    "ADDRESS_PROOF",
    "ENTERPRISE_REGISTRATION",
    "ID_CARD",
    "PASSPORT",
];

/// Validates the whole request tree. The first violation, in document order, is reported.
pub fn validate(req: &RegistrationRequest) -> Result<Registration, FieldError> {
    let mut v = Validator::default();
    let registration_request_id = v.required(
        "registrationRequestId",
        &req.registration_request_id,
        limits::REQUEST_ID,
    )?;
    let product_codes = product_codes(&req.product_codes)?;
    let needs_display_name = product_codes.iter().any(|c| {
        matches!(
            c,
            ProductCode::CashierPayment | ProductCode::AgreementPayment
        )
    });
    let in_store = product_codes.contains(&ProductCode::InStorePayment);

    let merchant = req
        .merchant_info
        .as_ref()
        .ok_or_else(|| missing("merchantInfo"))?;
    let m = v.merchant_info(merchant, needs_display_name)?;

    let store = match &req.store_info {
        Some(store) => Some(v.store_info(store)?),
        None if in_store => {
            return Err(FieldError {
                path: "storeInfo".into(),
                problem: "required when productCodes contains IN_STORE_PAYMENT".into(),
            });
        }
        None => None,
    };

    let notify_url = v.optional(
        "registrationNotifyUrl",
        &req.registration_notify_url,
        limits::URL,
    )?;
    let notify_url_antom = v.optional(
        "registrationNotifyURL",
        &req.registration_notify_url_antom,
        limits::URL,
    )?;
    let registration_notify_url = match (notify_url, notify_url_antom) {
        (Some(a), Some(b)) if a != b => {
            return Err(FieldError {
                path: "registrationNotifyUrl".into(),
                problem: "differs from registrationNotifyURL".into(),
            });
        }
        (a, b) => a.or(b),
    };
    if let Some(url) = registration_notify_url
        && !url.to_ascii_lowercase().starts_with("https://")
    {
        v.flag("registrationNotifyUrl is not https: the merchant will not be notified");
    }
    v.opaque(
        "passThroughInfo",
        &req.pass_through_info,
        limits::PASS_THROUGH_INFO,
    )?;

    let merchant_name = m
        .display_name
        .or(store.as_ref().and_then(|s| s.name))
        .unwrap_or(m.legal_name)
        .to_owned();
    let region = m
        .region
        .or(store.as_ref().and_then(|s| s.region))
        .or(m.registered_region)
        .map(str::to_owned);

    Ok(Registration {
        registration_request_id: registration_request_id.to_owned(),
        product_codes,
        reference_merchant_id: m.reference_merchant_id.to_owned(),
        reference_store_id: store.map(|s| s.reference_store_id.to_owned()),
        merchant_name,
        legal_name: m.legal_name.to_owned(),
        merchant_mcc: m.mcc.to_owned(),
        region,
        registration_notify_url: registration_notify_url.map(str::to_owned),
        review_flags: v.flags,
        search_text: search_text(req),
        subject: subject(req),
    })
}

/// The searchable values of a valid request, one a line (no value holds a
/// line break: validation refuses control characters in them).
fn search_text(req: &RegistrationRequest) -> String {
    let m = req.merchant_info.as_ref();
    let detail = m.and_then(|m| m.registration_detail.as_ref());
    let store = req.store_info.as_ref();
    let websites = m
        .and_then(|m| m.websites.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|w| w.url.as_deref());
    [
        req.registration_request_id.as_deref(),
        m.and_then(|m| m.reference_merchant_id.as_deref()),
        store.and_then(|s| s.reference_store_id.as_deref()),
        m.and_then(|m| m.merchant_display_name.as_deref()),
        detail.and_then(|d| d.legal_name.as_deref()),
        store.and_then(|s| s.store_name.as_deref()),
        store.and_then(|s| s.store_display_name.as_deref()),
        detail.and_then(|d| d.registration_no.as_deref()),
    ]
    .into_iter()
    .flatten()
    .chain(websites)
    .collect::<Vec<_>>()
    .join("\n")
    .to_lowercase()
}

/// What screening looks at in a valid request, each value with its path.
fn subject(req: &RegistrationRequest) -> Subject {
    let m = req.merchant_info.as_ref();
    let detail = m.and_then(|m| m.registration_detail.as_ref());
    let store = req.store_info.as_ref();
    let named = |path: &str, value: Option<&String>| value.map(|v| (path.to_owned(), v.clone()));
    let names = [
        named(
            "merchantInfo.registrationDetail.legalName",
            detail.and_then(|d| d.legal_name.as_ref()),
        ),
        named(
            "merchantInfo.merchantDisplayName",
            m.and_then(|m| m.merchant_display_name.as_ref()),
        ),
        named(
            "storeInfo.storeName",
            store.and_then(|s| s.store_name.as_ref()),
        ),
        named(
            "storeInfo.storeDisplayName",
            store.and_then(|s| s.store_display_name.as_ref()),
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    let websites = m
        .and_then(|m| m.websites.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, w)| {
            w.url
                .as_ref()
                .map(|u| (format!("merchantInfo.websites[{i}].url"), u.clone()))
        });
    Subject {
        names,
        registration_number: named(
            "merchantInfo.registrationDetail.registrationNo",
            detail.and_then(|d| d.registration_no.as_ref()),
        ),
        urls: websites
            .chain(named(
                "registrationNotifyUrl",
                req.registration_notify_url.as_ref(),
            ))
            .collect(),
    }
}

/// Adds the review flag `invisible_characters`, naming the fields whose text
/// reads differently from what it holds (see `text`).
pub fn flag_invisible_characters(registration: &mut Registration, body: &Value) {
    let fields = super::text::fields_with_invisible_characters(body);
    if !fields.is_empty() {
        registration
            .review_flags
            .push(format!("invisible_characters: {}", fields.join(", ")));
    }
}

/// The `registrationRequestId` of a body that failed validation elsewhere,
/// when it is itself valid: a bound id is answered from its binding whatever
/// else the repeat carries.
pub fn readable_request_id(body: &Value) -> Option<&str> {
    let id = body.get("registrationRequestId")?.as_str()?;
    check_text("registrationRequestId", id, limits::REQUEST_ID, false).ok()?;
    Some(id)
}

fn product_codes(codes: &Option<Vec<String>>) -> Result<Vec<ProductCode>, FieldError> {
    let codes = codes.as_ref().ok_or_else(|| missing("productCodes"))?;
    if codes.is_empty() {
        return Err(FieldError {
            path: "productCodes".into(),
            problem: "must not be empty".into(),
        });
    }
    let mut parsed = Vec::with_capacity(codes.len());
    for (i, code) in codes.iter().enumerate() {
        let code = ProductCode::parse(code).ok_or_else(|| FieldError {
            path: format!("productCodes[{i}]"),
            problem: "must be one of CASHIER_PAYMENT, AGREEMENT_PAYMENT, IN_STORE_PAYMENT".into(),
        })?;
        parsed.push(code);
    }
    parsed.sort();
    parsed.dedup();
    Ok(parsed)
}

fn missing(path: impl Display) -> FieldError {
    FieldError {
        path: path.to_string(),
        problem: "missing".into(),
    }
}

struct MerchantFacts<'a> {
    reference_merchant_id: &'a str,
    display_name: Option<&'a str>,
    mcc: &'a str,
    legal_name: &'a str,
    region: Option<&'a str>,
    registered_region: Option<&'a str>,
}

struct StoreFacts<'a> {
    reference_store_id: &'a str,
    name: Option<&'a str>,
    region: Option<&'a str>,
}

#[derive(Default)]
struct Validator {
    flags: Vec<String>,
}

impl Validator {
    fn flag(&mut self, text: impl Into<String>) {
        self.flags.push(text.into());
    }

    /// A string that must be present: not null, not blank, no control
    /// characters, at most `max` characters.
    ///
    /// Field paths here are `format_args!`, written out only for a refusal:
    /// a path built for every field checked cost more than the checks.
    fn required<'a>(
        &self,
        path: impl Display + Copy,
        value: &'a Option<String>,
        max: usize,
    ) -> Result<&'a str, FieldError> {
        self.optional(path, value, max)?
            .ok_or_else(|| missing(path))
    }

    fn optional<'a>(
        &self,
        path: impl Display + Copy,
        value: &'a Option<String>,
        max: usize,
    ) -> Result<Option<&'a str>, FieldError> {
        let Some(s) = value.as_deref() else {
            return Ok(None);
        };
        check_text(path, s, max, false)?;
        Ok(Some(s))
    }

    /// Opaque text (passThroughInfo) may carry line breaks and tabs.
    fn opaque<'a>(
        &self,
        path: impl Display + Copy,
        value: &'a Option<String>,
        max: usize,
    ) -> Result<Option<&'a str>, FieldError> {
        let Some(s) = value.as_deref() else {
            return Ok(None);
        };
        check_text(path, s, max, true)?;
        Ok(Some(s))
    }

    /// A value of an enumeration we only know from secondary sources: unknown values are flagged, not refused (A18).
    fn lenient_enum(&mut self, path: impl Display, value: Option<&str>, known: &[&str]) {
        if let Some(v) = value
            && !known.contains(&v)
        {
            self.flag(format!("{path}: unrecognised value {v:?}"));
        }
    }

    fn merchant_info<'a>(
        &mut self,
        m: &'a MerchantInfo,
        needs_display_name: bool,
    ) -> Result<MerchantFacts<'a>, FieldError> {
        let reference_merchant_id = self.required(
            "merchantInfo.referenceMerchantId",
            &m.reference_merchant_id,
            limits::MERCHANT_ID,
        )?;
        let display_name = self.optional(
            "merchantInfo.merchantDisplayName",
            &m.merchant_display_name,
            limits::DISPLAY_NAME,
        )?;
        if needs_display_name && display_name.is_none() {
            return Err(FieldError {
                path: "merchantInfo.merchantDisplayName".into(),
                problem: "required when productCodes contains CASHIER_PAYMENT or AGREEMENT_PAYMENT"
                    .into(),
            });
        }
        let mcc = self.required("merchantInfo.merchantMCC", &m.merchant_mcc, limits::MCC)?;
        if let Some(logo) = &m.logo {
            self.required(
                "merchantInfo.logo.logoName",
                &logo.logo_name,
                limits::LOGO_NAME,
            )?;
            self.optional("merchantInfo.logo.logoUrl", &logo.logo_url, limits::URL)?;
        }
        for (i, site) in m.websites.iter().flatten().enumerate() {
            self.website(format_args!("merchantInfo.websites[{i}]"), site)?;
        }
        let region = match &m.merchant_address {
            Some(a) => Some(self.address("merchantInfo.merchantAddress", a)?),
            None => None,
        };
        let detail = m
            .registration_detail
            .as_ref()
            .ok_or_else(|| missing("merchantInfo.registrationDetail"))?;
        let (legal_name, registered_region) = self.registration_detail(detail)?;
        Ok(MerchantFacts {
            reference_merchant_id,
            display_name,
            mcc,
            legal_name,
            region,
            registered_region,
        })
    }

    fn website(&mut self, path: impl Display + Copy, site: &WebSite) -> Result<(), FieldError> {
        self.required(format_args!("{path}.url"), &site.url, limits::URL)?;
        self.optional(
            format_args!("{path}.name"),
            &site.name,
            limits::WEBSITE_NAME,
        )?;
        self.optional(
            format_args!("{path}.desc"),
            &site.desc,
            limits::WEBSITE_DESC,
        )?;
        self.optional(
            format_args!("{path}.type"),
            &site.site_type,
            limits::WEBSITE_TYPE,
        )?;
        Ok(())
    }

    fn registration_detail<'a>(
        &mut self,
        d: &'a RegistrationDetail,
    ) -> Result<(&'a str, Option<&'a str>), FieldError> {
        const P: &str = "merchantInfo.registrationDetail";
        let legal_name = self.required(
            format_args!("{P}.legalName"),
            &d.legal_name,
            limits::LEGAL_NAME,
        )?;
        for (i, a) in d.attachments.iter().flatten().enumerate() {
            self.attachment(format_args!("{P}.attachments[{i}]"), a)?;
        }
        for (i, c) in d.contact_info.iter().flat_map(|l| l.0.iter()).enumerate() {
            self.contact(format_args!("{P}.contactInfo[{i}]"), c)?;
        }
        let registration_type = self.required(
            format_args!("{P}.registrationType"),
            &d.registration_type,
            limits::REGISTRATION_TYPE,
        )?;
        self.lenient_enum(
            format_args!("{P}.registrationType"),
            Some(registration_type),
            REGISTRATION_TYPES,
        );
        self.required(
            format_args!("{P}.registrationNo"),
            &d.registration_no,
            limits::REGISTRATION_NO,
        )?;
        let registered_region = match &d.registration_address {
            Some(a) => Some(self.address(format_args!("{P}.registrationAddress"), a)?),
            None => {
                self.flag(format!("{P}.registrationAddress: missing"));
                None
            }
        };
        let business_type = self.optional(
            format_args!("{P}.businessType"),
            &d.business_type,
            limits::BUSINESS_TYPE,
        )?;
        match business_type {
            Some(_) => self.lenient_enum(
                format_args!("{P}.businessType"),
                business_type,
                BUSINESS_TYPES,
            ),
            None => self.flag(format!("{P}.businessType: missing")),
        }
        self.optional(
            format_args!("{P}.registrationEffectiveDate"),
            &d.registration_effective_date,
            limits::DATE,
        )?;
        self.optional(
            format_args!("{P}.registrationExpireDate"),
            &d.registration_expire_date,
            limits::DATE,
        )?;
        Ok((legal_name, registered_region))
    }

    fn attachment(&mut self, path: impl Display + Copy, a: &Attachment) -> Result<(), FieldError> {
        let kind = self.required(
            format_args!("{path}.attachmentType"),
            &a.attachment_type,
            limits::ATTACHMENT_TYPE,
        )?;
        self.lenient_enum(
            format_args!("{path}.attachmentType"),
            Some(kind),
            ATTACHMENT_TYPES,
        );
        self.required(
            format_args!("{path}.file"),
            &a.file,
            limits::ATTACHMENT_FILE,
        )?;
        self.optional(
            format_args!("{path}.attachmentName"),
            &a.attachment_name,
            limits::ATTACHMENT_NAME,
        )?;
        self.optional(
            format_args!("{path}.fileKey"),
            &a.file_key,
            limits::FILE_KEY,
        )?;
        Ok(())
    }

    fn contact(&mut self, path: impl Display + Copy, c: &ContactInfo) -> Result<(), FieldError> {
        self.required(
            format_args!("{path}.contactNo"),
            &c.contact_no,
            limits::CONTACT_NO,
        )?;
        let kind = self.required(
            format_args!("{path}.contactType"),
            &c.contact_type,
            limits::CONTACT_TYPE,
        )?;
        self.lenient_enum(
            format_args!("{path}.contactType"),
            Some(kind),
            CONTACT_TYPES,
        );
        Ok(())
    }

    /// Validates an Address and returns its region.
    fn address<'a>(
        &mut self,
        path: impl Display + Copy,
        a: &'a Address,
    ) -> Result<&'a str, FieldError> {
        let region = self.required(format_args!("{path}.region"), &a.region, limits::REGION)?;
        if region.len() != limits::REGION || !region.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(FieldError {
                path: format!("{path}.region"),
                problem: "must be a two-letter ISO 3166-1 code".into(),
            });
        }
        self.optional(format_args!("{path}.state"), &a.state, limits::STATE)?;
        self.optional(format_args!("{path}.city"), &a.city, limits::CITY)?;
        self.optional(
            format_args!("{path}.address1"),
            &a.address1,
            limits::ADDRESS_LINE,
        )?;
        self.optional(
            format_args!("{path}.address2"),
            &a.address2,
            limits::ADDRESS_LINE,
        )?;
        self.optional(
            format_args!("{path}.address3"),
            &a.address3,
            limits::ADDRESS_LINE,
        )?;
        self.optional(
            format_args!("{path}.zipCode"),
            &a.zip_code,
            limits::ZIP_CODE,
        )?;
        self.optional(format_args!("{path}.country"), &a.country, limits::COUNTRY)?;
        self.optional(
            format_args!("{path}.label"),
            &a.label,
            limits::ADDRESS_LABEL,
        )?;
        Ok(region)
    }

    fn store_info<'a>(&mut self, s: &'a StoreInfo) -> Result<StoreFacts<'a>, FieldError> {
        const P: &str = "storeInfo";
        let reference_store_id = self.required(
            format_args!("{P}.referenceStoreId"),
            &s.reference_store_id,
            limits::STORE_ID,
        )?;
        let name = self.optional(
            format_args!("{P}.storeName"),
            &s.store_name,
            limits::STORE_NAME,
        )?;
        self.optional(
            format_args!("{P}.storeDisplayName"),
            &s.store_display_name,
            limits::STORE_NAME,
        )?;
        let mcc = self.optional(format_args!("{P}.storeMCC"), &s.store_mcc, limits::MCC)?;
        let region = match &s.store_address {
            Some(a) => Some(self.address(format_args!("{P}.storeAddress"), a)?),
            None => None,
        };
        for (field, present) in [
            ("storeName", name.is_some()),
            ("storeMCC", mcc.is_some()),
            ("storeAddress", region.is_some()),
        ] {
            if !present {
                self.flag(format!("{P}.{field}: missing"));
            }
        }
        for (i, c) in s.store_contacts.iter().flatten().enumerate() {
            self.optional(
                format_args!("{P}.storeContacts[{i}].fullName"),
                &c.full_name,
                limits::CONTACT_FULL_NAME,
            )?;
            self.optional(
                format_args!("{P}.storeContacts[{i}].identificationId"),
                &c.identification_id,
                limits::IDENTIFICATION_ID,
            )?;
        }
        self.optional(
            format_args!("{P}.storeTerminalId"),
            &s.store_terminal_id,
            limits::STORE_TERMINAL_ID,
        )?;
        self.optional(
            format_args!("{P}.storeOperatorId"),
            &s.store_operator_id,
            limits::STORE_OPERATOR_ID,
        )?;
        self.optional(
            format_args!("{P}.storePhoneNo"),
            &s.store_phone_no,
            limits::STORE_PHONE_NO,
        )?;
        Ok(StoreFacts {
            reference_store_id,
            name: name.or(s.store_display_name.as_deref()),
            region,
        })
    }
}

/// `""` and blank strings are refused everywhere (A7); so are control characters,
/// which no field of this API can legitimately carry (opaque text may carry
/// line breaks and tabs). Lengths count characters, not bytes.
fn check_text(path: impl Display, s: &str, max: usize, opaque: bool) -> Result<(), FieldError> {
    if s.trim().is_empty() {
        return Err(FieldError {
            path: path.to_string(),
            problem: "must not be empty".into(),
        });
    }
    if s.chars()
        .any(|c| c.is_control() && !(opaque && matches!(c, '\n' | '\r' | '\t')))
    {
        return Err(FieldError {
            path: path.to_string(),
            problem: "must not contain control characters".into(),
        });
    }
    let len = s.chars().count();
    if len > max {
        return Err(FieldError {
            path: path.to_string(),
            problem: format!("longer than {max} characters"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn online() -> Value {
        json!({
            "registrationRequestId": "REQ-1",
            "productCodes": ["CASHIER_PAYMENT", "AGREEMENT_PAYMENT", "CASHIER_PAYMENT"],
            "merchantInfo": {
                "referenceMerchantId": "M1",
                "merchantDisplayName": "Tea",
                "merchantMCC": "5812",
                "registrationDetail": {
                    "legalName": "Tea Ltd",
                    "registrationType": "ENTERPRISE_REGISTRATION_NO",
                    "registrationNo": "123",
                    "registrationAddress": {"region": "HK"},
                    "businessType": "ENTERPRISE"
                }
            }
        })
    }

    fn check(body: &Value) -> Result<Registration, FieldError> {
        validate(
            &RegistrationRequest::from_value(body).map_err(|e| FieldError {
                path: e.path,
                problem: e.problem,
            })?,
        )
    }

    fn refused_at(body: Value) -> String {
        check(&body).unwrap_err().path
    }

    #[test]
    fn a_complete_online_request_is_valid() {
        let r = check(&online()).unwrap();
        assert_eq!(
            r.product_codes,
            vec![ProductCode::CashierPayment, ProductCode::AgreementPayment]
        );
        assert_eq!(r.merchant_name, "Tea");
        assert_eq!(r.region.as_deref(), Some("HK"));
        assert!(r.review_flags.is_empty(), "{:?}", r.review_flags);
    }

    #[test]
    fn required_fields_are_named_when_missing_or_null() {
        let mut b = online();
        b["merchantInfo"]["registrationDetail"]["registrationNo"] = Value::Null;
        assert_eq!(
            refused_at(b),
            "merchantInfo.registrationDetail.registrationNo"
        );
        let mut b = online();
        b.as_object_mut().unwrap().remove("merchantInfo");
        assert_eq!(refused_at(b), "merchantInfo");
        let mut b = online();
        b["merchantInfo"]
            .as_object_mut()
            .unwrap()
            .remove("merchantMCC");
        assert_eq!(refused_at(b), "merchantInfo.merchantMCC");
    }

    #[test]
    fn empty_strings_lengths_and_control_characters_are_refused() {
        let mut b = online();
        b["registrationRequestId"] = json!("  ");
        assert_eq!(refused_at(b), "registrationRequestId");
        let mut b = online();
        b["registrationRequestId"] = json!("x".repeat(65));
        assert_eq!(refused_at(b), "registrationRequestId");
        let mut b = online();
        b["registrationRequestId"] = json!("é".repeat(64));
        assert!(
            check(&b).is_ok(),
            "64 characters of two bytes each are fine"
        );
        let mut b = online();
        b["merchantInfo"]["merchantDisplayName"] = json!("Tea\u{0}");
        assert_eq!(refused_at(b), "merchantInfo.merchantDisplayName");
    }

    #[test]
    fn product_codes_are_a_closed_non_empty_list() {
        let mut b = online();
        b["productCodes"] = json!([]);
        assert_eq!(refused_at(b), "productCodes");
        let mut b = online();
        b["productCodes"] = json!(["CASHIER_PAYMENT", "QR"]);
        assert_eq!(refused_at(b), "productCodes[1]");
    }

    #[test]
    fn conditional_fields() {
        let mut b = online();
        b["merchantInfo"]
            .as_object_mut()
            .unwrap()
            .remove("merchantDisplayName");
        assert_eq!(refused_at(b), "merchantInfo.merchantDisplayName");
        let mut b = online();
        b["productCodes"] = json!(["IN_STORE_PAYMENT"]);
        b["merchantInfo"]
            .as_object_mut()
            .unwrap()
            .remove("merchantDisplayName");
        assert_eq!(refused_at(b.clone()), "storeInfo");
        b["storeInfo"] = json!({"referenceStoreId": "S1", "storeName": "Central", "storeMCC": "5812", "storeAddress": {"region": "HK"}});
        let r = check(&b).unwrap();
        assert_eq!(r.reference_store_id.as_deref(), Some("S1"));
        assert_eq!(r.merchant_name, "Central");
    }

    #[test]
    fn region_must_be_two_letters() {
        let mut b = online();
        b["merchantInfo"]["merchantAddress"] = json!({"region": "H1"});
        assert_eq!(refused_at(b), "merchantInfo.merchantAddress.region");
        let mut b = online();
        b["merchantInfo"]["merchantAddress"] = json!({"region": "HKG"});
        assert_eq!(refused_at(b), "merchantInfo.merchantAddress.region");
    }

    #[test]
    fn notify_url_spellings_must_agree() {
        let mut b = online();
        b["registrationNotifyUrl"] = json!("https://a.example/n");
        b["registrationNotifyURL"] = json!("https://a.example/n");
        assert_eq!(
            check(&b).unwrap().registration_notify_url.as_deref(),
            Some("https://a.example/n")
        );
        b["registrationNotifyURL"] = json!("https://b.example/n");
        assert_eq!(refused_at(b), "registrationNotifyUrl");
    }

    #[test]
    fn soft_rules_flag_instead_of_refusing() {
        let mut b = online();
        b["merchantInfo"]["registrationDetail"]["businessType"] = json!("COOPERATIVE");
        b["merchantInfo"]["registrationDetail"]
            .as_object_mut()
            .unwrap()
            .remove("registrationAddress");
        b["merchantInfo"]["registrationDetail"]["contactInfo"] =
            json!({"contactNo": "1", "contactType": "FAX"});
        let r = check(&b).unwrap();
        assert_eq!(r.review_flags.len(), 3, "{:?}", r.review_flags);
    }

    #[test]
    fn a_valid_id_is_readable_from_an_otherwise_invalid_body() {
        let mut b = online();
        b["merchantInfo"]["merchantMCC"] = json!(5812);
        assert_eq!(readable_request_id(&b), Some("REQ-1"));
        b["registrationRequestId"] = json!("x".repeat(65));
        assert_eq!(readable_request_id(&b), None);
        b["registrationRequestId"] = json!(1);
        assert_eq!(readable_request_id(&b), None);
    }
}
