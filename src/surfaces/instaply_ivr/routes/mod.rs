//! `GET|POST /v1/ivr`: HTTP in, [`crate::surfaces::instaply_ivr::hook`] answer out.

pub mod decode;

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, ResponseError, get, post, web};
use tokio::sync::Semaphore;
use utoipa_actix_web::service_config::ServiceConfig;

use decode::BodyError;
pub use decode::MAX_BODY_BYTES;

/// Longest query string read. A hook request's fields take a few hundred
/// bytes and Twilio's signed parameters a few KiB; longer is refused with a
/// 414 rather than decoded (past 64 KiB, by the connection's watch).
pub use crate::platform::http::long_uri::MAX_QUERY_BYTES;

use crate::platform::domain::FieldErrors;
use crate::platform::twilio_signature::SignedRequest;
use crate::surfaces::instaply_ivr::domain::RawIvrRequest;
use crate::surfaces::instaply_ivr::hook::{Hook, HookAnswer};

/// What the hook's routes need: the hook and the bounds on its requests.
pub struct HookRoutes {
    pub hook: Hook,
    /// Permits for requests in flight; past them a request is shed with a 503.
    pub in_flight: Semaphore,
    /// Longest a request may take, body included.
    pub request_timeout: Duration,
    /// Bound on a request's database work; past it the answer is a 503.
    pub db_timeout: Duration,
}

/// `Content-Type` of every TwiML answer, exactly as the contract gives it.
pub const TWIML_CONTENT_TYPE: &str = "text/xml; charset=utf-8";

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    // The catch-all comes last: macro-routed resources guard on their method,
    // so any other method falls through to it.
    cfg.service(ivr_get).service(ivr_post);
}

/// Answer a call, fields in the query string.
#[utoipa::path(
    tag = "hook",
    params(
        ("key" = String, Query, description = "The organization's API token (1 to 128 printable ASCII characters)",
            pattern = "^[\\x20-\\x7e]{1,128}$", example = "a73d5034210f702515128ac61193cd21"),
        ("from" = Option<String>, Query, description = "The caller's number, E.164 (`+` encoded as `%2B`); required unless Twilio's `From` is given",
            pattern = "^\\+[1-9][0-9]{1,14}$", example = "+14151234560"),
        ("to" = Option<String>, Query, description = "The business number called, E.164; required unless Twilio's `To` is given",
            pattern = "^\\+[1-9][0-9]{1,14}$", example = "+14151234567"),
        ("context" = Option<String>, Query, description = "Campaign or consent tag", pattern = "^[A-Za-z0-9_.:-]{0,64}$"),
        ("From" = Option<String>, Query, description = "Twilio's name for `from`, used when `from` is absent"),
        ("To" = Option<String>, Query, description = "Twilio's name for `to`, used when `to` is absent"),
    ),
    responses(
        (status = 200, description = "TwiML: `<Dial>` or a bilingual `<Say>`", body = String, content_type = "text/xml; charset=utf-8",
            example = json!("<Response><Dial>+14155550100</Dial></Response>")),
        (status = 400, description = "One sentence per bad field", body = FieldErrors,
            example = json!({"to": "Missing parameter"})),
        (status = 403, description = "Unknown or revoked key, or a missing or wrong X-Twilio-Signature for an organization that requires it",
            body = FieldErrors, example = json!({"key": "Invalid API Key"})),
        (status = 429, description = "The key's rate limit is spent", body = FieldErrors, headers(("Retry-After" = String)),
            example = json!({"key": "Rate limit exceeded: at most 200 requests per second per key"})),
        (status = 414, description = "Query string over 8 KiB", body = FieldErrors,
            example = json!({"query": "Query string over 8192 bytes"})),
        (status = 503, description = "The database cannot be reached", body = FieldErrors,
            headers(("Retry-After" = String)), example = json!({"service": "Temporarily unavailable"})),
    )
)]
#[get("/v1/ivr")]
async fn ivr_get(req: HttpRequest, state: web::Data<HookRoutes>) -> Result<HttpResponse, IvrError> {
    bounded(&state, async {
        check_query_length(&req)?;
        let signed = signed_request(&req, Vec::new(), Vec::new());
        answer(&state, &signed, "GET", decode::from_query(req.query_string())).await
    })
    .await
}

/// Answer a call, fields in a JSON or form body (a field missing from the body is taken from the query string).
#[utoipa::path(
    tag = "hook",
    params(
        ("key" = Option<String>, Query, description = "The API token, when the body does not carry it"),
        ("from" = Option<String>, Query, description = "Fallback for a body without `from`"),
        ("to" = Option<String>, Query, description = "Fallback for a body without `to`"),
        ("context" = Option<String>, Query, description = "Fallback for a body without `context`"),
    ),
    request_body(content(
        (IvrFields = "application/json"),
        (IvrFields = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "TwiML: `<Dial>` or a bilingual `<Say>`", body = String, content_type = "text/xml; charset=utf-8",
            example = json!("<Response><Dial>+14155550100</Dial></Response>")),
        (status = 400, description = "One sentence per bad field, or `body` when it does not parse", body = FieldErrors,
            example = json!({"from": "Must be a JSON string, not a number"})),
        (status = 403, description = "Unknown or revoked key, or a missing or wrong X-Twilio-Signature for an organization that requires it",
            body = FieldErrors, example = json!({"key": "Invalid API Key"})),
        (status = 429, description = "The key's rate limit is spent", body = FieldErrors, headers(("Retry-After" = String)),
            example = json!({"key": "Rate limit exceeded: at most 200 requests per second per key"})),
        (status = 413, description = "Body over 16 KiB", body = FieldErrors, example = json!({"body": "Request body over 16384 bytes"})),
        (status = 414, description = "Query string over 8 KiB", body = FieldErrors,
            example = json!({"query": "Query string over 8192 bytes"})),
        (status = 415, description = "Neither JSON nor form-encoded", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors,
            headers(("Retry-After" = String)), example = json!({"service": "Temporarily unavailable"})),
    )
)]
#[post("/v1/ivr")]
async fn ivr_post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<HookRoutes>,
) -> Result<HttpResponse, IvrError> {
    bounded(&state, async {
        check_query_length(&req)?;
        let body = decode::from_body(&req, payload).await?;
        let signed = signed_request(&req, body.form_params, body.bytes);
        answer(
            &state,
            &signed,
            "POST",
            body.fields.or(decode::from_query(req.query_string())),
        )
        .await
    })
    .await
}

fn check_query_length(req: &HttpRequest) -> Result<(), IvrError> {
    if req.query_string().len() > MAX_QUERY_BYTES {
        return Err(IvrError::QueryTooLong);
    }
    Ok(())
}

/// Sheds the request at once when too many are in flight, and bounds the
/// time it may take, body included: overload gives fast 503s, not queues.
async fn bounded(
    state: &HookRoutes,
    handle: impl Future<Output = Result<HttpResponse, IvrError>>,
) -> Result<HttpResponse, IvrError> {
    let _permit = state.in_flight.try_acquire().map_err(|_| IvrError::Shed)?;
    tokio::time::timeout(state.request_timeout, handle)
        .await
        .map_err(|_| IvrError::TimedOut("the request took longer than IVR_REQUEST_TIMEOUT"))?
}

/// The fields of a hook request body, as JSON strings or form fields.
#[derive(utoipa::ToSchema)]
#[expect(
    dead_code,
    reason = "describes the body for the OpenAPI document; decoding is decode::from_body"
)]
struct IvrFields {
    /// The organization's API token.
    key: Option<String>,
    /// The caller's number, E.164 (Twilio's form field `From` is accepted too).
    from: Option<String>,
    /// The business number called, E.164 (or Twilio's `To`).
    to: Option<String>,
    /// Campaign or consent tag.
    context: Option<String>,
}

/// What Twilio signed: the URL as requested (scheme and host as the client
/// saw them, through a proxy's Forwarded headers), the form, the body.
fn signed_request(req: &HttpRequest, params: Vec<(String, String)>, body: Vec<u8>) -> SignedRequest {
    let info = req.connection_info();
    SignedRequest {
        url: format!("{}://{}{}", info.scheme(), info.host(), req.uri()),
        params,
        body,
        signature: req
            .headers()
            .get("x-twilio-signature")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
    }
}

async fn answer(
    state: &HookRoutes,
    signed: &SignedRequest,
    method: &'static str,
    raw: RawIvrRequest,
) -> Result<HttpResponse, IvrError> {
    let answer = tokio::time::timeout(state.db_timeout, state.hook.answer(signed, method, &raw))
        .await
        .map_err(|_| IvrError::TimedOut("the database did not answer within IVR_DB_TIMEOUT"))??;
    Ok(match answer {
        HookAnswer::Voice(_, response) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, TWIML_CONTENT_TYPE))
            .body(response.to_xml()),
        HookAnswer::InvalidKey => json(StatusCode::FORBIDDEN, r#"{"key":"Invalid API Key"}"#.to_owned()),
        HookAnswer::InvalidSignature => json(
            StatusCode::FORBIDDEN,
            r#"{"signature":"Invalid X-Twilio-Signature"}"#.to_owned(),
        ),
        HookAnswer::Invalid(errors) => json(StatusCode::BAD_REQUEST, errors.to_json()),
        HookAnswer::RateLimited(wait) => {
            let message = format!(
                "Rate limit exceeded: at most {} requests per second per key",
                state.hook.rate_limit().per_second
            );
            let mut response = json(
                StatusCode::TOO_MANY_REQUESTS,
                FieldErrors::single("key", message).to_json(),
            );
            // Whole seconds, rounded up, at least one.
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds.max(1)));
            response
        }
    })
}

fn json(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(ContentType::json())
        .body(body)
}

/// Failures that stop a request before the hook can answer it.
#[derive(Debug, thiserror::Error)]
enum IvrError {
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error("Query string over {MAX_QUERY_BYTES} bytes")]
    QueryTooLong,
    /// The cause is logged; the caller only learns to retry.
    #[error(transparent)]
    Unavailable(#[from] crate::surfaces::instaply_ivr::hook::Unavailable),
    #[error("{0}")]
    TimedOut(&'static str),
    #[error("overloaded: request shed (IVR_MAX_IN_FLIGHT)")]
    Shed,
}

impl ResponseError for IvrError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Body(BodyError::TooLarge) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Body(BodyError::UnsupportedType(_)) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Body(_) => StatusCode::BAD_REQUEST,
            Self::QueryTooLong => StatusCode::URI_TOO_LONG,
            Self::Unavailable(_) | Self::TimedOut(_) | Self::Shed => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Body(error) => json(self.status_code(), error.to_field_errors().to_json()),
            Self::QueryTooLong => json(
                self.status_code(),
                FieldErrors::single("query", self.to_string()).to_json(),
            ),
            Self::Unavailable(_) | Self::TimedOut(_) | Self::Shed => {
                tracing::warn!(cause = %crate::platform::telemetry::Chain(self), "answering 503");
                crate::platform::http::unavailable()
            }
        }
    }
}
