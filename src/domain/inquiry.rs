//! Answering `inquiryRegistrationStatus` (resolutions A4, A24, A25): what a
//! query must name, and which registrations it reports.

use std::collections::BTreeSet;

use super::admission::RegistrationKey;
use super::registration::FieldError;
use super::status::RegistrationStatus;
use crate::protocol::inquiry::InquiryRequest;
use crate::protocol::limits;
use crate::protocol::registration::ProductCode;

/// What a valid query asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// One request; the other ids, when given, must belong to it.
    ByRequest {
        registration_request_id: String,
        reference_merchant_id: Option<String>,
        reference_store_id: Option<String>,
    },
    /// A merchant, optionally one of its stores.
    ByMerchant {
        reference_merchant_id: String,
        reference_store_id: Option<String>,
    },
}

pub fn validate(req: &InquiryRequest) -> Result<Query, FieldError> {
    let text = |path: &str, v: &Option<String>, max: usize| -> Result<Option<String>, FieldError> {
        match v.as_deref() {
            None => Ok(None),
            Some(s) if s.trim().is_empty() => Err(FieldError {
                path: path.into(),
                problem: "must not be empty".into(),
            }),
            Some(s) if s.chars().any(char::is_control) => Err(FieldError {
                path: path.into(),
                problem: "must not contain control characters".into(),
            }),
            Some(s) if s.chars().count() > max => Err(FieldError {
                path: path.into(),
                problem: format!("longer than {max} characters"),
            }),
            Some(s) => Ok(Some(s.to_owned())),
        }
    };
    let request_id = text(
        "registrationRequestId",
        &req.registration_request_id,
        limits::REQUEST_ID,
    )?;
    let merchant_id = text(
        "referenceMerchantId",
        &req.reference_merchant_id,
        limits::MERCHANT_ID,
    )?;
    let store_id = text(
        "referenceStoreId",
        &req.reference_store_id,
        limits::STORE_ID,
    )?;
    match (request_id, merchant_id) {
        (Some(registration_request_id), reference_merchant_id) => Ok(Query::ByRequest {
            registration_request_id,
            reference_merchant_id,
            reference_store_id: store_id,
        }),
        (None, Some(reference_merchant_id)) => Ok(Query::ByMerchant {
            reference_merchant_id,
            reference_store_id: store_id,
        }),
        (None, None) => Err(FieldError {
            path: "registrationRequestId".into(),
            problem: "either registrationRequestId or referenceMerchantId must be provided".into(),
        }),
    }
}

/// A stored registration, as an inquiry sees it.
#[derive(Debug, Clone)]
pub struct Known {
    pub registration_request_id: String,
    pub reference_merchant_id: String,
    pub reference_store_id: Option<String>,
    pub product_codes: Vec<String>,
    pub status: RegistrationStatus,
    pub reason: Option<String>,
}

/// One element of the answer: a registration request and the product codes it speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    pub product_codes: Vec<String>,
    pub status: RegistrationStatus,
    pub rejection_reason: Option<String>,
}

/// For a merchant-wide query: for every registration key (product code, and
/// store for in-store payment), the most recent registration; one element
/// per registration that is the latest for at least one key, carrying those
/// keys' codes, oldest first (as Alipay+'s samples list them). With `store`,
/// only that store's in-store key. `newest_first` must be ordered by
/// reception, newest first.
pub fn latest_per_key(newest_first: &[Known], store: Option<&str>) -> Vec<Reported> {
    let mut seen: BTreeSet<RegistrationKey> = BTreeSet::new();
    let mut out = Vec::new();
    for known in newest_first {
        let codes: Vec<String> = known
            .product_codes
            .iter()
            .filter_map(|code| ProductCode::parse(code))
            .map(|product| {
                RegistrationKey::of(
                    &known.reference_merchant_id,
                    known.reference_store_id.as_deref(),
                    product,
                )
            })
            .filter(|key| match store {
                Some(store) => key.reference_store_id.as_deref() == Some(store),
                None => true,
            })
            .filter(|key| seen.insert(key.clone()))
            .map(|key| key.product.as_str().to_owned())
            .collect();
        if !codes.is_empty() {
            out.push(report(known, codes));
        }
    }
    out.reverse();
    out
}

pub fn report(known: &Known, product_codes: Vec<String>) -> Reported {
    let mut product_codes = product_codes;
    product_codes.sort_by_key(|c| ProductCode::parse(c).map(|p| p as u8).unwrap_or(u8::MAX));
    Reported {
        product_codes,
        status: known.status,
        rejection_reason: match known.status {
            RegistrationStatus::Rejected => {
                known.reason.clone().map(|r| r.chars().take(1024).collect())
            }
            RegistrationStatus::Pending
            | RegistrationStatus::Approved
            | RegistrationStatus::Cancelled => None,
        },
    }
}

/// COMPLETED when every reported registration is final, else PENDING.
pub fn aggregate(reported: &[Reported]) -> &'static str {
    if reported.iter().all(|r| r.status.is_final()) {
        "COMPLETED"
    } else {
        "PENDING"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(id: &str, store: Option<&str>, codes: &[&str], status: RegistrationStatus) -> Known {
        Known {
            registration_request_id: id.into(),
            reference_merchant_id: "M".into(),
            reference_store_id: store.map(str::to_owned),
            product_codes: codes.iter().map(|c| c.to_string()).collect(),
            status,
            reason: Some("why".into()),
        }
    }

    #[test]
    fn a_query_must_name_a_request_or_a_merchant() {
        let q = |r: Option<&str>, m: Option<&str>, s: Option<&str>| {
            validate(&InquiryRequest {
                registration_request_id: r.map(str::to_owned),
                reference_merchant_id: m.map(str::to_owned),
                reference_store_id: s.map(str::to_owned),
            })
        };
        assert!(q(None, None, None).is_err());
        assert!(q(None, None, Some("S")).is_err());
        assert_eq!(
            q(Some(""), None, None).unwrap_err().path,
            "registrationRequestId"
        );
        assert_eq!(
            q(None, Some(&"m".repeat(65)), None).unwrap_err().path,
            "referenceMerchantId"
        );
        assert!(matches!(
            q(Some("R"), Some("M"), None),
            Ok(Query::ByRequest { .. })
        ));
        assert!(matches!(
            q(None, Some("M"), Some("S")),
            Ok(Query::ByMerchant { .. })
        ));
    }

    #[test]
    fn the_latest_registration_speaks_for_each_key() {
        use RegistrationStatus::*;
        let rows = [
            known("R3", None, &["AGREEMENT_PAYMENT"], Pending),
            known("R2", Some("S1"), &["IN_STORE_PAYMENT"], Rejected),
            known(
                "R1",
                None,
                &["CASHIER_PAYMENT", "AGREEMENT_PAYMENT"],
                Approved,
            ),
        ];
        let reported = latest_per_key(&rows, None);
        assert_eq!(reported.len(), 3);
        assert_eq!(
            reported[0].product_codes,
            ["CASHIER_PAYMENT"],
            "AGREEMENT_PAYMENT is R3's now"
        );
        assert_eq!(reported[1].rejection_reason.as_deref(), Some("why"));
        assert_eq!(reported[2].product_codes, ["AGREEMENT_PAYMENT"]);
        assert_eq!(aggregate(&reported), "PENDING");
        assert_eq!(aggregate(&reported[..2]), "COMPLETED");
    }

    #[test]
    fn an_online_registration_is_one_key_whatever_store_it_names() {
        use RegistrationStatus::*;
        let both = ["CASHIER_PAYMENT", "AGREEMENT_PAYMENT"];
        let rows = [
            known("R3", Some("S2"), &both, Pending),
            known("R2", Some("S1"), &both, Rejected),
            known("R1", None, &both, Approved),
            known("R0", Some("S1"), &["IN_STORE_PAYMENT"], Approved),
        ];
        let reported = latest_per_key(&rows, None);
        assert_eq!(reported.len(), 2, "{reported:?}");
        assert_eq!(reported[0].product_codes, ["IN_STORE_PAYMENT"]);
        assert_eq!(reported[1].status, Pending);
        // A store query reports that store's in-store key only.
        let store = latest_per_key(&rows, Some("S1"));
        assert_eq!(store.len(), 1);
        assert_eq!(store[0].product_codes, ["IN_STORE_PAYMENT"]);
        assert!(latest_per_key(&rows, Some("S2")).is_empty());
    }
}
