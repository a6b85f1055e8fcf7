//! `GET|POST /v1/ivr`: HTTP in, [`crate::hook`] answer out.

mod decode;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use decode::BodyError;
pub use decode::MAX_BODY_BYTES;

use crate::hook::{self, HookAnswer};
use crate::startup::AppState;

/// `Content-Type` of every TwiML answer, exactly as the contract gives it.
pub const TWIML_CONTENT_TYPE: &str = "text/xml; charset=utf-8";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v1/ivr")
            .route(web::get().to(ivr))
            .route(web::post().to(ivr))
            .default_service(web::to(method_not_allowed)),
    );
}

async fn ivr(req: HttpRequest, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, IvrError> {
    let query = decode::from_query(req.query_string());
    let (method, raw) = if req.method() == actix_web::http::Method::POST {
        ("POST", decode::from_body(&req, payload).await?.or(query))
    } else {
        ("GET", query)
    };
    let answer = tokio::time::timeout(
        state.db_timeout,
        hook::answer_call(&state.pool, &state.rules, method, &raw),
    )
    .await
    .map_err(|_| IvrError::Unavailable("the database did not answer in time".to_owned()))?
    .map_err(|e| IvrError::Unavailable(e.to_string()))?;
    Ok(match answer {
        HookAnswer::Voice(_, response) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, TWIML_CONTENT_TYPE))
            .body(response.to_xml()),
        HookAnswer::InvalidKey => json(StatusCode::FORBIDDEN, r#"{"key":"Invalid API Key"}"#.to_owned()),
        HookAnswer::Invalid(errors) => json(StatusCode::BAD_REQUEST, errors.to_json()),
    })
}

async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    let message = format!("Method {} is not allowed: use GET or POST", req.method());
    let mut response = json(
        StatusCode::METHOD_NOT_ALLOWED,
        serde_json::json!({ "method": message }).to_string(),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static("GET, POST"));
    response
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
    /// The cause is logged; the caller only learns to retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

impl ResponseError for IvrError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Body(BodyError::TooLarge) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Body(BodyError::UnsupportedType(_)) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Body(_) => StatusCode::BAD_REQUEST,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Body(error) => json(self.status_code(), error.to_field_errors().to_json()),
            Self::Unavailable(cause) => {
                tracing::warn!(%cause, "answering 503");
                super::unavailable()
            }
        }
    }
}
