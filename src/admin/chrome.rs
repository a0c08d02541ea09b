//! What every admin page carries whatever produced it: the environment band
//! (`MPP_ENVIRONMENT_LABEL`), and the menu on error pages too. Filled in
//! after the page is rendered, so that neither the pages nor the error
//! mapping need the settings or the session.

use std::rc::Rc;

use actix_web::HttpMessage as _;
use actix_web::body::{BoxBody, to_bytes};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::middleware::Next;
use askama::Template as _;

use super::auth::Reviewer;
use super::views::{MenuFragment, Nav};

const BAND_MARK: &str = "<!--environment-->";
const MENU_MARK: &str = "<!--menu-->";

/// The band's HTML for a label, escaped; empty without a label.
pub fn band(label: Option<&str>) -> Rc<str> {
    match label {
        Some(label) => format!(
            "<div class=\"environment\" role=\"note\" aria-label=\"Environment\">{}</div>",
            askama::filters::escape(label, askama::filters::Html)
                .map(|e| e.to_string())
                .unwrap_or_default()
        )
        .into(),
        None => "".into(),
    }
}

/// Middleware: fills the marks of an HTML page.
pub async fn fill(
    band: Rc<str>,
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?;
    let is_html = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !is_html {
        return Ok(res);
    }
    let reviewer = res.request().extensions().get::<Reviewer>().cloned();
    let (req, res) = res.into_parts();
    let (mut head, body) = res.into_parts();
    let bytes = match to_bytes(body).await {
        Ok(bytes) => bytes,
        Err(_) => return Err(actix_web::error::ErrorInternalServerError("page body")),
    };
    let mut page = String::from_utf8_lossy(&bytes).into_owned();
    page = page.replacen(BAND_MARK, &band, 1);
    if page.contains(MENU_MARK) {
        let menu = reviewer
            .map(|r| {
                MenuFragment {
                    nav: Nav {
                        is_admin: r.is_admin(),
                        username: r.username,
                        csrf: r.csrf_token,
                    },
                }
                .render()
                .unwrap_or_default()
            })
            .unwrap_or_default();
        page = page.replacen(MENU_MARK, &menu, 1);
    }
    head.headers_mut().remove(CONTENT_LENGTH);
    let res = head.set_body(page).map_into_boxed_body();
    Ok(ServiceResponse::new(req, res))
}
