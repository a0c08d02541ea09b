//! The one mapping from admin-page failures to what the browser gets.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use askama::Template as _;

use super::views::ErrorPage;
use crate::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("not signed in")]
    Unauthenticated,
    #[error("admins only")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("the form expired")]
    Csrf,
    #[error("request from a foreign origin")]
    ForeignOrigin,
    #[error("{0}")]
    BadRequest(String),
    #[error("database: {0}")]
    Database(#[from] DbError),
    #[error("{0}")]
    Internal(String),
    /// Single sign-on could not complete; the text is safe to show.
    #[error("{0}")]
    Sso(String),
    /// The identity provider vouched for someone who has no access here.
    #[error("no access")]
    NoAccess,
    /// Password sign-in is turned off (`MPP_PASSWORD_SIGN_IN=false`).
    #[error("password sign-in is off")]
    PasswordSignInOff,
}

impl From<diesel::result::Error> for AdminError {
    fn from(e: diesel::result::Error) -> Self {
        AdminError::Database(DbError::Query(e))
    }
}

impl AdminError {
    fn title_and_text(&self) -> (&'static str, String) {
        match self {
            AdminError::Unauthenticated => ("Sign in", "Please sign in.".into()),
            AdminError::Forbidden => ("Not allowed", "Only admins may do this.".into()),
            AdminError::NotFound => ("Not found", "There is nothing at this address.".into()),
            AdminError::Csrf => (
                "Form expired",
                "The form expired. Go back, reload the page and try again.".into(),
            ),
            AdminError::ForeignOrigin => (
                "Refused",
                "This request did not come from the admin pages.".into(),
            ),
            AdminError::BadRequest(text) => ("Cannot do that", text.clone()),
            AdminError::Database(_) => (
                "Database unavailable",
                "The database did not answer. Try again in a moment.".into(),
            ),
            AdminError::Internal(_) => ("Error", "Something went wrong on our side.".into()),
            AdminError::Sso(text) => ("Single sign-on failed", text.clone()),
            AdminError::NoAccess => (
                "No access",
                "Your account has no access to the review console. Ask your administrator to add you to a reviewer group.".into(),
            ),
            AdminError::PasswordSignInOff => (
                "Not allowed",
                "Password sign-in is turned off: sign in with SSO.".into(),
            ),
        }
    }
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            AdminError::Unauthenticated => StatusCode::SEE_OTHER,
            AdminError::Forbidden
            | AdminError::Csrf
            | AdminError::ForeignOrigin
            | AdminError::NoAccess
            | AdminError::PasswordSignInOff => StatusCode::FORBIDDEN,
            AdminError::Sso(_) => StatusCode::BAD_GATEWAY,
            AdminError::NotFound => StatusCode::NOT_FOUND,
            AdminError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AdminError::Database(_) => StatusCode::SERVICE_UNAVAILABLE,
            AdminError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AdminError::Unauthenticated => {
                return HttpResponse::SeeOther()
                    .insert_header(("Location", "/admin/login"))
                    .finish();
            }
            AdminError::Database(e) => {
                tracing::error!(error = %e, "admin page: database unavailable")
            }
            AdminError::Internal(e) => tracing::error!(error = %e, "admin page failed"),
            AdminError::Csrf | AdminError::ForeignOrigin => {
                tracing::warn!(reason = %self, "admin form refused")
            }
            AdminError::Forbidden
            | AdminError::NotFound
            | AdminError::BadRequest(_)
            | AdminError::Sso(_)
            | AdminError::NoAccess
            | AdminError::PasswordSignInOff => {}
        }
        let (title, text) = self.title_and_text();
        let body = ErrorPage { title, text: &text }
            .render()
            .unwrap_or_else(|_| text.clone());
        HttpResponse::build(self.status_code())
            .content_type("text/html; charset=utf-8")
            .body(body)
    }
}
