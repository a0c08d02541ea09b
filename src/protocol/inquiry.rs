//! Wire types of `inquiryRegistrationStatus` (caller → wallet).

use serde::{Deserialize, Serialize};

use super::notify::RegistrationResult;
use super::result::ApsResult;

#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InquiryRequest {
    #[schemars(length(min = 1, max = super::limits::REQUEST_ID))]
    pub registration_request_id: Option<String>,
    #[schemars(length(min = 1, max = super::limits::MERCHANT_ID))]
    pub reference_merchant_id: Option<String>,
    #[schemars(length(min = 1, max = super::limits::STORE_ID))]
    pub reference_store_id: Option<String>,
}

impl InquiryRequest {
    /// Reads the typed query out of a parsed body; type errors name their field.
    pub fn from_value(
        value: &serde_json::Value,
    ) -> Result<InquiryRequest, super::registration::WireError> {
        super::registration::read_typed(value)
    }
}

/// The aggregate `registrationResult`: COMPLETED or PENDING.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AggregateResult {
    pub registration_status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PspRegistrationResult {
    pub psp_name: String,
    pub product_codes: Vec<String>,
    pub registration_result: RegistrationResult,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InquiryResponse {
    pub result: ApsResult,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_result: Option<AggregateResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psp_registration_result_list: Option<Vec<PspRegistrationResult>>,
}
