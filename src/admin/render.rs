//! Turning a page into a response. Apart from the page structs (`views`) and
//! the error mapping (`error`), so that neither needs the other.

use askama::Template;

use super::error::AdminError;

/// A rendered page as a 200 response.
pub fn page_response(page: &impl Template) -> Result<actix_web::HttpResponse, AdminError> {
    let body = page
        .render()
        .map_err(|e| AdminError::Internal(e.to_string()))?;
    Ok(actix_web::HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body))
}
