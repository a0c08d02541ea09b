//! `inquiryRegistrationStatus`: where a registration, or a merchant's
//! registrations, stand. No side effects.

use actix_web::web::Bytes;

use super::ApsContext;
use super::error::{ApsError, Reply};
use crate::db::registrations::{self as store, InquiryRow};
use crate::db::{self, DbError};
use crate::domain::inquiry::{Known, Query, Reported, aggregate, latest_per_key, report, validate};
use crate::protocol::inquiry::{
    AggregateResult, InquiryRequest, InquiryResponse, PspRegistrationResult,
};
use crate::protocol::notify::RegistrationResult;
use crate::protocol::registration::parse_body;
use crate::protocol::result::{ApsResult, ResultCode};

/// The most registrations one merchant-wide answer looks at.
const MERCHANT_SCAN_LIMIT: i64 = 1000;

pub async fn inquire(ctx: &ApsContext, body: Bytes) -> Result<Reply, ApsError> {
    let value = parse_body(&body)?;
    let query = validate(&InquiryRequest::from_value(&value)?)?;
    if let Query::ByRequest {
        registration_request_id,
        ..
    } = &query
    {
        tracing::Span::current()
            .record("registration_request_id", registration_request_id.as_str());
    }
    let lookup = query.clone();
    let rows = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        Ok::<_, DbError>(match &lookup {
            Query::ByRequest {
                registration_request_id,
                ..
            } => store::find_for_inquiry(conn, registration_request_id)?
                .into_iter()
                .collect::<Vec<_>>(),
            Query::ByMerchant {
                reference_merchant_id,
                reference_store_id,
            } => store::list_for_merchant(
                conn,
                reference_merchant_id,
                reference_store_id.as_deref(),
                MERCHANT_SCAN_LIMIT,
            )?,
        })
    })
    .await?;
    let known: Vec<Known> = rows.into_iter().filter_map(known).collect();
    let reported: Vec<Reported> = match &query {
        Query::ByRequest {
            reference_merchant_id,
            reference_store_id,
            ..
        } => {
            let Some(one) = known.first() else {
                return Err(ApsError::RecordNotFound);
            };
            let merchant_differs = reference_merchant_id
                .as_ref()
                .is_some_and(|m| *m != one.reference_merchant_id);
            let store_differs =
                reference_store_id.is_some() && *reference_store_id != one.reference_store_id;
            if merchant_differs || store_differs {
                return Err(ApsError::IdsDoNotBelongTogether);
            }
            vec![report(one, one.product_codes.clone())]
        }
        Query::ByMerchant {
            reference_store_id, ..
        } => latest_per_key(&known, reference_store_id.as_deref()),
    };
    if reported.is_empty() {
        return Err(ApsError::RecordNotFound);
    }
    let response = InquiryResponse {
        result: ApsResult::new(ResultCode::Success, ResultCode::Success.default_message()),
        registration_result: Some(AggregateResult {
            registration_status: aggregate(&reported).to_owned(),
        }),
        psp_registration_result_list: Some(
            reported
                .into_iter()
                .map(|r| PspRegistrationResult {
                    psp_name: ctx.psp_name.clone(),
                    product_codes: r.product_codes,
                    registration_result: RegistrationResult {
                        registration_status: r.status.as_str().to_owned(),
                        rejection_reason: r.rejection_reason,
                    },
                })
                .collect(),
        ),
    };
    let body = serde_json::to_vec(&response).map_err(|e| DbError::Worker(e.to_string()))?;
    Ok(Reply {
        code: ResultCode::Success,
        body,
    })
}

fn known(row: InquiryRow) -> Option<Known> {
    Some(Known {
        status: row.status,
        registration_request_id: row.registration_request_id,
        reference_merchant_id: row.reference_merchant_id,
        reference_store_id: row.reference_store_id,
        product_codes: row.product_codes,
        reason: row.reason,
    })
}
