//! Wire types of the `registration` request (Alipay+ → wallet).
//!
//! Every field is optional here: presence, lengths and conditional rules are
//! the domain's to judge, so that a missing field and a `null` one are told
//! apart from a wrongly typed one with the same field path. Unknown fields are
//! ignored here; the raw body is stored as received, so nothing is lost.

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::limits;

/// The closed list of product codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProductCode {
    CashierPayment,
    AgreementPayment,
    InStorePayment,
}

impl ProductCode {
    pub const ALL: [ProductCode; 3] = [
        ProductCode::CashierPayment,
        ProductCode::AgreementPayment,
        ProductCode::InStorePayment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProductCode::CashierPayment => "CASHIER_PAYMENT",
            ProductCode::AgreementPayment => "AGREEMENT_PAYMENT",
            ProductCode::InStorePayment => "IN_STORE_PAYMENT",
        }
    }

    pub fn parse(s: &str) -> Option<ProductCode> {
        ProductCode::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationRequest {
    #[schemars(required, length(min = 1, max = limits::REQUEST_ID))]
    pub registration_request_id: Option<String>,
    #[schemars(required, schema_with = "product_codes_schema")]
    pub product_codes: Option<Vec<String>>,
    #[schemars(required)]
    pub merchant_info: Option<MerchantInfo>,
    pub store_info: Option<StoreInfo>,
    #[schemars(length(min = 1, max = limits::URL))]
    pub registration_notify_url: Option<String>,
    /// Antom / SDK spelling of the same field (A5).
    #[serde(rename = "registrationNotifyURL")]
    #[schemars(length(min = 1, max = limits::URL))]
    pub registration_notify_url_antom: Option<String>,
    #[schemars(length(min = 1, max = limits::PASS_THROUGH_INFO))]
    pub pass_through_info: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MerchantInfo {
    #[schemars(required, length(min = 1, max = limits::MERCHANT_ID))]
    pub reference_merchant_id: Option<String>,
    #[schemars(length(min = 1, max = limits::DISPLAY_NAME))]
    pub merchant_display_name: Option<String>,
    #[serde(rename = "merchantMCC")]
    #[schemars(required, length(min = 1, max = limits::MCC))]
    pub merchant_mcc: Option<String>,
    pub logo: Option<Logo>,
    pub websites: Option<Vec<WebSite>>,
    pub merchant_address: Option<Address>,
    #[schemars(required)]
    pub registration_detail: Option<RegistrationDetail>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Logo {
    #[schemars(required, length(min = 1, max = limits::LOGO_NAME))]
    pub logo_name: Option<String>,
    #[schemars(length(min = 1, max = limits::URL))]
    pub logo_url: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebSite {
    #[schemars(length(min = 1, max = limits::WEBSITE_NAME))]
    pub name: Option<String>,
    #[schemars(required, length(min = 1, max = limits::URL))]
    pub url: Option<String>,
    #[schemars(length(min = 1, max = limits::WEBSITE_DESC))]
    pub desc: Option<String>,
    #[serde(rename = "type")]
    #[schemars(length(min = 1, max = limits::WEBSITE_TYPE))]
    pub site_type: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    #[schemars(required, length(min = 2, max = limits::REGION))]
    pub region: Option<String>,
    #[schemars(length(min = 1, max = limits::STATE))]
    pub state: Option<String>,
    #[schemars(length(min = 1, max = limits::CITY))]
    pub city: Option<String>,
    #[schemars(length(min = 1, max = limits::ADDRESS_LINE))]
    pub address1: Option<String>,
    #[schemars(length(min = 1, max = limits::ADDRESS_LINE))]
    pub address2: Option<String>,
    #[schemars(length(min = 1, max = limits::ADDRESS_LINE))]
    pub address3: Option<String>,
    #[schemars(length(min = 1, max = limits::ZIP_CODE))]
    pub zip_code: Option<String>,
    #[schemars(length(min = 1, max = limits::COUNTRY))]
    pub country: Option<String>,
    #[schemars(length(min = 1, max = limits::ADDRESS_LABEL))]
    pub label: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationDetail {
    #[schemars(required, length(min = 1, max = limits::LEGAL_NAME))]
    pub legal_name: Option<String>,
    pub attachments: Option<Vec<Attachment>>,
    /// An array in Alipay+ material, a single object in the Python SDK (A5).
    pub contact_info: Option<ContactInfoList>,
    #[schemars(required, length(min = 1, max = limits::REGISTRATION_TYPE))]
    pub registration_type: Option<String>,
    #[schemars(required, length(min = 1, max = limits::REGISTRATION_NO))]
    pub registration_no: Option<String>,
    pub registration_address: Option<Address>,
    #[schemars(length(min = 1, max = limits::BUSINESS_TYPE))]
    pub business_type: Option<String>,
    #[schemars(length(min = 1, max = limits::DATE))]
    pub registration_effective_date: Option<String>,
    #[schemars(length(min = 1, max = limits::DATE))]
    pub registration_expire_date: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    #[schemars(required, length(min = 1, max = limits::ATTACHMENT_TYPE))]
    pub attachment_type: Option<String>,
    #[schemars(required, length(min = 1, max = limits::ATTACHMENT_FILE))]
    pub file: Option<String>,
    #[schemars(length(min = 1, max = limits::ATTACHMENT_NAME))]
    pub attachment_name: Option<String>,
    #[schemars(length(min = 1, max = limits::FILE_KEY))]
    pub file_key: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactInfo {
    #[schemars(required, length(min = 1, max = limits::CONTACT_NO))]
    pub contact_no: Option<String>,
    #[schemars(required, length(min = 1, max = limits::CONTACT_TYPE))]
    pub contact_type: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoreInfo {
    #[schemars(required, length(min = 1, max = limits::STORE_ID))]
    pub reference_store_id: Option<String>,
    #[schemars(length(min = 1, max = limits::STORE_NAME))]
    pub store_name: Option<String>,
    #[schemars(length(min = 1, max = limits::STORE_NAME))]
    pub store_display_name: Option<String>,
    #[serde(rename = "storeMCC")]
    #[schemars(length(min = 1, max = limits::MCC))]
    pub store_mcc: Option<String>,
    pub store_address: Option<Address>,
    pub store_contacts: Option<Vec<StoreContact>>,
    #[schemars(length(min = 1, max = limits::STORE_TERMINAL_ID))]
    pub store_terminal_id: Option<String>,
    #[schemars(length(min = 1, max = limits::STORE_OPERATOR_ID))]
    pub store_operator_id: Option<String>,
    #[schemars(length(min = 1, max = limits::STORE_PHONE_NO))]
    pub store_phone_no: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoreContact {
    #[schemars(length(min = 1, max = limits::CONTACT_FULL_NAME))]
    pub full_name: Option<String>,
    #[schemars(length(min = 1, max = limits::IDENTIFICATION_ID))]
    pub identification_id: Option<String>,
}

/// `contactInfo`, normalised to a list whether it came as an object or an array.
#[derive(Debug, Clone, Default)]
pub struct ContactInfoList(pub Vec<ContactInfo>);

impl<'de> Deserialize<'de> for ContactInfoList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrMany;
        impl<'de> Visitor<'de> for OneOrMany {
            type Value = ContactInfoList;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a ContactInfo object or an array of them")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<ContactInfo>()? {
                    items.push(item);
                }
                Ok(ContactInfoList(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let one = ContactInfo::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(ContactInfoList(vec![one]))
            }
        }
        deserializer.deserialize_any(OneOrMany)
    }
}

impl JsonSchema for ContactInfoList {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ContactInfoList".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let one = generator.subschema_for::<ContactInfo>();
        schemars::json_schema!({
            "description": "One ContactInfo or an array of them (both forms are in use).",
            "oneOf": [one, {"type": "array", "items": one}]
        })
    }
}

fn product_codes_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let codes: Vec<&str> = ProductCode::ALL.iter().map(|c| c.as_str()).collect();
    schemars::json_schema!({"type": "array", "minItems": 1, "items": {"type": "string", "enum": codes}})
}

/// Why a body could not be read as a registration request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    /// Dotted field path, e.g. `merchantInfo.websites[0].url`; `body` for the whole body.
    pub path: String,
    pub problem: String,
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

/// Parses the body into a JSON value; it must be one UTF-8 JSON object that
/// names no member twice.
pub fn parse_body(body: &[u8]) -> Result<Value, WireError> {
    let super::json::Strict(value) = serde_json::from_slice(body).map_err(|e| WireError {
        path: "body".into(),
        problem: format!("not valid JSON ({})", describe(&e)),
    })?;
    if !value.is_object() {
        return Err(WireError {
            path: "body".into(),
            problem: "must be a JSON object".into(),
        });
    }
    Ok(value)
}

impl RegistrationRequest {
    /// Reads the typed request out of a parsed body; type errors name their field path.
    pub fn from_value(value: &Value) -> Result<RegistrationRequest, WireError> {
        read_typed(value)
    }
}

/// Reads a typed message out of a parsed body; a type error names its field path.
pub fn read_typed<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, WireError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { "body".to_owned() } else { path };
        WireError {
            path,
            problem: describe(e.inner()),
        }
    })
}

/// serde_json's message without its "at line X column Y" suffix, with the
/// wording turned towards the sender.
fn describe(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" at line ") {
        Some(idx) => &text[..idx],
        None => &text,
    };
    text.replace("invalid type: ", "wrong type: ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RegistrationRequest, WireError> {
        RegistrationRequest::from_value(&parse_body(text.as_bytes())?)
    }

    #[test]
    fn numbers_where_strings_belong_name_the_path() {
        let err =
            parse(r#"{"merchantInfo":{"registrationDetail":{"registrationNo":12}}}"#).unwrap_err();
        assert_eq!(err.path, "merchantInfo.registrationDetail.registrationNo");
        let err = parse(r#"{"merchantInfo":{"websites":[{"url":true}]}}"#).unwrap_err();
        assert_eq!(err.path, "merchantInfo.websites[0].url");
    }

    #[test]
    fn contact_info_may_be_one_object_or_an_array() {
        let one = parse(r#"{"merchantInfo":{"registrationDetail":{"contactInfo":{"contactNo":"1","contactType":"EMAIL"}}}}"#).unwrap();
        let many = parse(r#"{"merchantInfo":{"registrationDetail":{"contactInfo":[{"contactNo":"1"},{"contactNo":"2"}]}}}"#).unwrap();
        let len = |r: &RegistrationRequest| {
            r.merchant_info
                .as_ref()
                .and_then(|m| m.registration_detail.as_ref())
                .and_then(|d| d.contact_info.as_ref())
                .map(|c| c.0.len())
        };
        assert_eq!(len(&one), Some(1));
        assert_eq!(len(&many), Some(2));
    }

    #[test]
    fn null_is_absent_and_unknown_fields_are_ignored() {
        let r = parse(r#"{"registrationRequestId":null,"somethingNew":{"x":1}}"#).unwrap();
        assert!(r.registration_request_id.is_none());
    }

    #[test]
    fn non_objects_are_refused() {
        assert_eq!(parse("[]").unwrap_err().path, "body");
        assert_eq!(parse("{").unwrap_err().path, "body");
        assert_eq!(parse_body(b"\xff\xfe").unwrap_err().path, "body");
    }
}
