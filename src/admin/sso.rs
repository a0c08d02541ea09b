//! Single sign-on with the wallet's identity provider (OpenID Connect): the
//! authorization-code flow with PKCE, `state` and `nonce`, discovery from the
//! issuer, and the ID token checked by `openidconnect` (signature by the
//! issuer's keys, `iss`, `aud`, `exp`, `nonce`). The role comes from the
//! groups claim at every sign-in; SSO accounts are keyed by issuer and
//! `sub`, and are not asked for our TOTP (the provider owns their factors).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreResponseType, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields, IssuerUrl,
    Nonce, OAuth2TokenResponse as _, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    StandardErrorResponse, StandardTokenResponse, UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Mutex;

use super::AdminContext;
use super::error::AdminError;
use super::login::open_session;
use crate::config::SsoSettings;
use crate::db::audit::{self, NewAuditEntry, action};
use crate::db::{self, users};
use crate::domain::user::{Role, check_username};

const FLOW_COOKIE: &str = "mpp_sso";
const FLOW_PATH: &str = "/admin/oidc";
const FLOW_LIFETIME: Duration = Duration::from_secs(10 * 60);
/// Provider metadata (and its keys) are fetched again after this long.
const METADATA_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// Every claim beyond the standard ones, so the groups claim can be read
/// under whatever name the provider uses.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OtherClaims(HashMap<String, Value>);
impl AdditionalClaims for OtherClaims {}

type TokenResponse = StandardTokenResponse<
    IdTokenFields<
        OtherClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

type Client = openidconnect::Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The provider's discovered metadata, kept for an hour.
#[derive(Default)]
pub struct Discovery {
    cached: Mutex<Option<(Instant, CoreProviderMetadata)>>,
}

/// Outbound calls to the provider: no redirects followed, bounded in time.
fn http_client() -> Result<reqwest::Client, AdminError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| AdminError::Internal(e.to_string()))
}

async fn send(
    http: &reqwest::Client,
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, reqwest::Error> {
    let (parts, body) = request.into_parts();
    let answer = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let mut response = openidconnect::http::Response::builder().status(answer.status());
    if let Some(headers) = response.headers_mut() {
        *headers = answer.headers().clone();
    }
    let body = answer.bytes().await?.to_vec();
    Ok(response.body(body).unwrap_or_default())
}

fn failed(what: &str, e: impl std::fmt::Display) -> AdminError {
    tracing::warn!(error = %e, "single sign-on: {what}");
    AdminError::Sso(format!(
        "The identity provider could not be used ({what}). Try again later."
    ))
}

async fn client(ctx: &AdminContext, sso: &SsoSettings) -> Result<Client, AdminError> {
    let http = http_client()?;
    let mut cached = ctx.discovery.cached.lock().await;
    let metadata = match cached.as_ref() {
        Some((at, metadata)) if at.elapsed() < METADATA_LIFETIME => metadata.clone(),
        _ => {
            let issuer = IssuerUrl::new(sso.issuer.clone()).map_err(|e| failed("issuer", e))?;
            let metadata = CoreProviderMetadata::discover_async(issuer, &|r| send(&http, r))
                .await
                .map_err(|e| failed("discovery", e))?;
            *cached = Some((Instant::now(), metadata.clone()));
            metadata
        }
    };
    let redirect = RedirectUrl::new(format!(
        "{}/admin/oidc/callback",
        sso.public_url.trim_end_matches('/')
    ))
    .map_err(|e| failed("redirect URI", e))?;
    Ok(Client::from_provider_metadata(
        metadata,
        ClientId::new(sso.client_id.clone()),
        Some(ClientSecret::new(sso.client_secret.clone())),
    )
    .set_redirect_uri(redirect))
}

/// What the browser carries from the start to the callback, sealed.
#[derive(Serialize, Deserialize)]
struct Flow {
    state: String,
    nonce: String,
    verifier: String,
    started: i64,
}

fn settings(ctx: &AdminContext) -> Result<&SsoSettings, AdminError> {
    ctx.sso.as_ref().ok_or(AdminError::NotFound)
}

/// GET /admin/oidc/start: off to the provider.
pub async fn start(ctx: web::Data<AdminContext>) -> Result<HttpResponse, AdminError> {
    let sso = settings(&ctx)?;
    let client = client(&ctx, sso).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let flow = Flow {
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        verifier: verifier.secret().clone(),
        started: chrono::Utc::now().timestamp(),
    };
    let json = serde_json::to_vec(&flow).map_err(|e| AdminError::Internal(e.to_string()))?;
    let sealed = ctx
        .secrets
        .seal(&json, b"sso flow")
        .ok_or_else(|| AdminError::Internal("cannot seal".into()))?;
    // Lax, not Strict: the provider sends the browser back with a top-level
    // cross-site navigation, on which Strict cookies are withheld.
    let cookie = Cookie::build(FLOW_COOKIE, URL_SAFE_NO_PAD.encode(sealed))
        .path(FLOW_PATH)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(ctx.secure_cookies)
        .max_age(actix_web::cookie::time::Duration::seconds(
            FLOW_LIFETIME.as_secs() as i64,
        ))
        .finish();
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", url.to_string()))
        .cookie(cookie)
        .finish())
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

fn read_flow(req: &HttpRequest, ctx: &AdminContext) -> Option<Flow> {
    let sealed = URL_SAFE_NO_PAD
        .decode(req.cookie(FLOW_COOKIE)?.value())
        .ok()?;
    let json = ctx.secrets.open(&sealed, b"sso flow")?;
    let flow: Flow = serde_json::from_slice(&json).ok()?;
    let age = chrono::Utc::now().timestamp() - flow.started;
    (0..=FLOW_LIFETIME.as_secs() as i64)
        .contains(&age)
        .then_some(flow)
}

/// The groups under `claim`: a list of strings, or one string.
fn groups_in(claims: &OtherClaims, claim: &str) -> Option<Vec<String>> {
    match claims.0.get(claim)? {
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        ),
        Value::String(one) => Some(vec![one.clone()]),
        _ => None,
    }
}

/// Admins first: a member of both lists is an admin.
pub fn role_for(groups: &[String], sso: &SsoSettings) -> Option<Role> {
    let member = |list: &[String]| groups.iter().any(|g| list.contains(g));
    if member(&sso.admin_groups) {
        Some(Role::Admin)
    } else if member(&sso.reviewer_groups) {
        Some(Role::Reviewer)
    } else {
        None
    }
}

/// GET /admin/oidc/callback.
pub async fn callback(
    req: HttpRequest,
    query: web::Query<Callback>,
    ctx: web::Data<AdminContext>,
) -> Result<HttpResponse, AdminError> {
    let sso = settings(&ctx)?;
    let flow = read_flow(&req, &ctx).ok_or(AdminError::BadRequest(
        "This sign-in expired or did not start here. Start again from the sign-in page.".into(),
    ))?;
    if let Some(error) = &query.error {
        return Err(failed("the provider refused the sign-in", error));
    }
    let state_ok = query
        .state
        .as_deref()
        .is_some_and(|s| super::auth::tokens_equal(s, &flow.state));
    let (Some(code), true) = (query.code.clone(), state_ok) else {
        return Err(AdminError::Csrf);
    };
    let client = client(&ctx, sso).await?;
    let http = http_client()?;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| failed("token endpoint", e))?
        .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier))
        .request_async(&|r| send(&http, r))
        .await
        .map_err(|e| failed("code exchange", e))?;
    let id_token = tokens
        .extra_fields()
        .id_token()
        .ok_or_else(|| failed("ID token", "none in the token response"))?;
    let claims = id_token
        .claims(&client.id_token_verifier(), &Nonce::new(flow.nonce))
        .map_err(|e| failed("ID token check", e))?;
    let issuer = claims.issuer().to_string();
    let subject = claims.subject().to_string();
    let mut name = claims
        .preferred_username()
        .map(|u| u.to_string())
        .or_else(|| claims.email().map(|e| e.to_string()));
    let groups = match groups_in(claims.additional_claims(), &sso.groups_claim) {
        Some(groups) => groups,
        // Some providers put groups only in UserInfo.
        None => {
            let info: UserInfoClaims<OtherClaims, CoreGenderClaim> = client
                .user_info(tokens.access_token().clone(), None)
                .map_err(|e| failed("UserInfo endpoint", e))?
                .request_async(&|r| send(&http, r))
                .await
                .map_err(|e| failed("UserInfo", e))?;
            if name.is_none() {
                name = info
                    .preferred_username()
                    .map(|u| u.to_string())
                    .or_else(|| info.email().map(|e| e.to_string()));
            }
            groups_in(info.additional_claims(), &sso.groups_claim).unwrap_or_default()
        }
    };
    let username = name.unwrap_or_else(|| subject.clone());
    let role = role_for(&groups, sso);
    tracing::info!(
        username = %username,
        groups = ?groups,
        role = role.map(Role::as_str).unwrap_or("none"),
        "single sign-on: groups seen and the role they give"
    );
    let address = super::auth::client_address(&req, ctx.trust_forwarded_for);
    let refuse = |why: String| async {
        let (name, addr) = (username.clone(), address.clone());
        db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
            let entry = NewAuditEntry {
                actor: &name,
                action: action::SSO_REFUSED,
                detail: Some(&why),
                address: Some(&addr),
                ..Default::default()
            };
            Ok(audit::insert_entry(conn, &entry)?)
        })
        .await?;
        Err::<HttpResponse, AdminError>(AdminError::NoAccess)
    };
    let Some(role) = role else {
        return refuse(format!("no access: groups {groups:?}")).await;
    };
    if check_username(&username).is_err() {
        return refuse(format!("name {username:?} is not a usable username")).await;
    }
    let unusable = super::password::hash_password(&super::auth::new_token()?)
        .map_err(|e| AdminError::Internal(e.to_string()))?;
    let (iss, sub, name, addr) = (
        issuer.clone(),
        subject.clone(),
        username.clone(),
        address.clone(),
    );
    let outcome = db::run(&ctx.pool, ctx.db_timeouts, move |conn| {
        use diesel::Connection as _;
        Ok(conn.transaction(|conn| {
            let user = match users::find_sso_user(conn, &iss, &sub)? {
                Some(user) => user,
                None => {
                    if !users::insert_sso_user(conn, &name, &unusable, role, &iss, &sub)? {
                        return Ok(Err("the name is taken by another account"));
                    }
                    match users::find_sso_user(conn, &iss, &sub)? {
                        Some(user) => user,
                        None => return Ok(Err("the account could not be made")),
                    }
                }
            };
            // An account disabled here stays out, whatever the provider says.
            if user.disabled_at.is_some() {
                return Ok(Err("the account is disabled here"));
            }
            if user.role != role {
                users::set_role(conn, &user.username, role)?;
                let detail = format!(
                    "user {} is now {} (from the identity provider's groups)",
                    user.username,
                    role.as_str()
                );
                let entry = NewAuditEntry {
                    actor: "sso",
                    action: action::USER_ROLE_CHANGED,
                    detail: Some(&detail),
                    address: Some(&addr),
                    ..Default::default()
                };
                audit::insert_entry(conn, &entry)?;
            }
            Ok::<_, diesel::result::Error>(Ok(user))
        })?)
    })
    .await?;
    let user = match outcome {
        Ok(user) => user,
        Err(why) => return refuse(why.to_owned()).await,
    };
    let detail = format!("{issuer} as {}", role.as_str());
    let session = open_session(
        &req,
        &ctx,
        user.id,
        user.username.clone(),
        address,
        Some((action::SSO_SIGNED_IN, detail)),
    )
    .await?;
    let mut done = Cookie::build(FLOW_COOKIE, "")
        .path(FLOW_PATH)
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(ctx.secure_cookies)
        .finish();
    done.make_removal();
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", "/admin"))
        .cookie(session)
        .cookie(done)
        .finish())
}
