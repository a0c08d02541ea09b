//! Whether a new registration request is admitted (resolution A3).
//!
//! Each product code of a request is one registration key: the merchant and
//! the product, plus the store for `IN_STORE_PAYMENT` only (an online
//! product's store id is stored but is not part of its key). A request is
//! admitted or refused as a unit:
//! - `REGISTRATION_UNDER_REVIEW` when any of its keys has a PENDING
//!   registration from another request;
//! - `REPEAT_REGISTRATION` when every key's registration in force (its latest
//!   approval) carries the same merchant data as the request;
//! - otherwise it is admitted: a new registration, or an update of the keys
//!   it shares with earlier ones.

use serde_json::Value;

use crate::protocol::canonical;
use crate::protocol::registration::ProductCode;

/// One registration key of a request.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegistrationKey {
    pub reference_merchant_id: String,
    pub product: ProductCode,
    /// `Some` exactly for `IN_STORE_PAYMENT`.
    pub reference_store_id: Option<String>,
}

impl RegistrationKey {
    /// The key of `product` for this merchant (and store, for in-store payment).
    pub fn of(
        reference_merchant_id: &str,
        reference_store_id: Option<&str>,
        product: ProductCode,
    ) -> RegistrationKey {
        RegistrationKey {
            reference_merchant_id: reference_merchant_id.to_owned(),
            product,
            reference_store_id: match product {
                ProductCode::InStorePayment => reference_store_id.map(str::to_owned),
                ProductCode::CashierPayment | ProductCode::AgreementPayment => None,
            },
        }
    }
}

/// The keys a request (or a stored registration) covers, one per product code.
pub fn keys_of(
    reference_merchant_id: &str,
    reference_store_id: Option<&str>,
    products: &[ProductCode],
) -> Vec<RegistrationKey> {
    products
        .iter()
        .map(|p| RegistrationKey::of(reference_merchant_id, reference_store_id, *p))
        .collect()
}

/// What the database knows about one key of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// Another request's registration of this key is PENDING.
    Pending {
        product: ProductCode,
        registration_request_id: String,
    },
    /// The registration in force for this key (its latest approval), with
    /// the body of the request it was approved from.
    InForce {
        product: ProductCode,
        raw_request: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admit,
    UnderReview,
    RepeatRegistration,
}

/// Decides on the request `body` covering `products`, given what is known
/// about those keys (evidence about other keys must not be passed).
pub fn admit(body: &Value, products: &[ProductCode], evidence: &[Evidence]) -> Admission {
    if evidence
        .iter()
        .any(|e| matches!(e, Evidence::Pending { .. }))
    {
        return Admission::UnderReview;
    }
    let unchanged = |product: ProductCode| {
        evidence.iter().any(|e| match e {
            Evidence::InForce {
                product: p,
                raw_request,
            } if *p == product => serde_json::from_str::<Value>(raw_request)
                .is_ok_and(|approved| key_data(&approved, product) == key_data(body, product)),
            Evidence::InForce { .. } | Evidence::Pending { .. } => false,
        })
    };
    if !products.is_empty() && products.iter().all(|p| unchanged(*p)) {
        Admission::RepeatRegistration
    } else {
        Admission::Admit
    }
}

/// Fingerprint of the merchant data a key's registration is about:
/// `merchantInfo`, and for in-store payment `storeInfo` too. The request id,
/// product list, notify URL and pass-through data are not merchant data.
pub fn key_data(body: &Value, product: ProductCode) -> [u8; 32] {
    let store = match product {
        ProductCode::InStorePayment => body.get("storeInfo"),
        ProductCode::CashierPayment | ProductCode::AgreementPayment => None,
    };
    canonical::fingerprint(&serde_json::json!({
        "merchantInfo": body.get("merchantInfo"),
        "storeInfo": store,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProductCode::*;
    use serde_json::json;

    fn body(mcc: &str, store: &str) -> Value {
        json!({
            "registrationRequestId": "R",
            "merchantInfo": {"referenceMerchantId": "M", "merchantMCC": mcc},
            "storeInfo": {"referenceStoreId": store}
        })
    }

    fn in_force(product: ProductCode, b: &Value) -> Evidence {
        Evidence::InForce {
            product,
            raw_request: b.to_string(),
        }
    }

    #[test]
    fn an_online_key_ignores_the_store_and_an_in_store_key_names_it() {
        assert_eq!(
            RegistrationKey::of("M", Some("S1"), CashierPayment),
            RegistrationKey::of("M", None, CashierPayment)
        );
        assert_ne!(
            RegistrationKey::of("M", Some("S1"), InStorePayment),
            RegistrationKey::of("M", Some("S2"), InStorePayment)
        );
        assert_eq!(
            keys_of("M", Some("S"), &[CashierPayment, AgreementPayment]).len(),
            2
        );
    }

    #[test]
    fn a_new_merchant_is_admitted() {
        assert_eq!(
            admit(&body("5812", "S"), &[CashierPayment], &[]),
            Admission::Admit
        );
    }

    #[test]
    fn a_pending_key_holds_the_whole_request() {
        let pending = Evidence::Pending {
            product: AgreementPayment,
            registration_request_id: "R0".into(),
        };
        assert_eq!(
            admit(
                &body("5812", "S"),
                &[CashierPayment, AgreementPayment],
                &[in_force(CashierPayment, &body("5812", "S")), pending]
            ),
            Admission::UnderReview
        );
    }

    #[test]
    fn a_repeat_needs_every_key_in_force_with_the_same_merchant_data() {
        let b = body("5812", "S1");
        let both = [CashierPayment, AgreementPayment];
        let all = [in_force(CashierPayment, &b), in_force(AgreementPayment, &b)];
        assert_eq!(admit(&b, &both, &all), Admission::RepeatRegistration);
        // One key not registered yet: adding a product is an update.
        assert_eq!(admit(&b, &both, &all[..1]), Admission::Admit);
        // Changed merchant data: an update.
        assert_eq!(admit(&body("5813", "S1"), &both, &all), Admission::Admit);
        // An online key does not look at the store.
        assert_eq!(
            admit(&body("5812", "S2"), &both, &all),
            Admission::RepeatRegistration
        );
    }

    #[test]
    fn an_in_store_key_compares_the_store_data_too() {
        let b = body("5812", "S1");
        let mut renamed = b.clone();
        renamed["storeInfo"]["storeName"] = json!("New name");
        let evidence = [in_force(InStorePayment, &b)];
        assert_eq!(
            admit(&b, &[InStorePayment], &evidence),
            Admission::RepeatRegistration
        );
        assert_eq!(
            admit(&renamed, &[InStorePayment], &evidence),
            Admission::Admit
        );
    }

    #[test]
    fn key_data_ignores_ids_products_urls_and_key_order() {
        let a = json!({"registrationRequestId": "1", "productCodes": ["CASHIER_PAYMENT"],
            "merchantInfo": {"a": "1", "b": "2"}, "registrationNotifyUrl": "https://x"});
        let b =
            json!({"registrationRequestId": "2", "merchantInfo": {"b": "2", "a": "1", "c": null}});
        assert_eq!(key_data(&a, CashierPayment), key_data(&b, CashierPayment));
    }
}
