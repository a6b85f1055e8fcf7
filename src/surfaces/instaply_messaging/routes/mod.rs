//! The messaging side's HTTP routes: the Bot API and webhooks under `/api`
//! (Instaply's own paths), and the admin routes that play the customer.

pub mod admin;
mod bot;
mod webhooks;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use sqlx::PgPool;
use utoipa_actix_web::service_config::ServiceConfig;

use super::storage::sends::SendMessages;
use super::storage::threads::{self, User};
use crate::platform::domain::{ApiKey, FieldErrors};
use crate::platform::group_commit::GroupCommit;
use crate::platform::http::body;
use crate::platform::http::error::JsonError;

/// What the messaging routes need.
pub struct MessagingRoutes {
    pub pool: PgPool,
    /// Bound on a request's database work; past it the answer is a 503.
    pub db_timeout: Duration,
    /// Bot API sends, group-committed.
    pub sends: GroupCommit<SendMessages>,
    /// Users of the tokens seen lately: a send needs no lookup of its own.
    tokens: TokenCache,
}

/// Known tokens' users, each kept [`TOKEN_TTL`]: a token moved to another
/// user by a fixtures reload is seen within that. At most
/// [`MAX_TOKENS`] entries (emptied when full); unknown tokens are not kept,
/// so random tokens cannot grow it.
#[derive(Default)]
struct TokenCache(Mutex<HashMap<Vec<u8>, (User, Instant)>>);

const TOKEN_TTL: Duration = Duration::from_secs(5);
const MAX_TOKENS: usize = 10_000;

impl TokenCache {
    fn get(&self, hash: &[u8]) -> Option<User> {
        let cache = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        cache
            .get(hash)
            .filter(|(_, at)| at.elapsed() < TOKEN_TTL)
            .map(|(user, _)| *user)
    }

    fn put(&self, hash: &[u8], user: User) {
        let mut cache = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.len() >= MAX_TOKENS {
            cache.clear();
        }
        cache.insert(hash.to_vec(), (user, Instant::now()));
    }
}

/// Send commits in flight at once (as for the hook's journal: while one
/// commits, the next batch gathers).
pub const SEND_SLOTS: usize = 1;

impl MessagingRoutes {
    /// Must be called inside the Tokio runtime (it starts the send writer).
    pub fn new(pool: PgPool, db_timeout: Duration) -> Self {
        let sends = GroupCommit::start(&pool, SEND_SLOTS, SendMessages);
        Self {
            pool,
            db_timeout,
            sends,
            tokens: TokenCache::default(),
        }
    }
}

/// The Bot API and the webhooks API, at Instaply's own paths.
pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(bot::send_message)
        .service(bot::update_thread_status)
        .service(bot::thread_details)
        .service(bot::whatsapp_templates)
        .service(bot::customer_profile)
        .service(bot::update_hook_url)
        .service(webhooks::create)
        .service(webhooks::list)
        .service(webhooks::show)
        .service(webhooks::update)
        .service(webhooks::delete);
}

/// Bot API bodies are small documents.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Why a messaging request was refused, in Instaply's shapes (assumed, as
/// docs/instaply-messaging.md lists): a missing or unknown token, or the
/// platform's field errors and 503.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or invalid token")]
    Unauthorized,
    #[error(transparent)]
    Failed(#[from] JsonError),
}

impl ApiError {
    pub fn invalid(errors: FieldErrors) -> Self {
        JsonError::invalid_fields(errors).into()
    }

    pub fn not_found(field: &'static str, message: impl Into<String>) -> Self {
        JsonError::not_found(field, message).into()
    }

    pub fn conflict(field: &'static str, message: impl Into<String>) -> Self {
        JsonError::Rejected(StatusCode::CONFLICT, FieldErrors::single(field, message)).into()
    }

    pub fn unavailable(cause: String) -> Self {
        JsonError::Unavailable(cause).into()
    }

    pub fn no_thread(id: impl std::fmt::Display) -> Self {
        Self::not_found("customerThreadId", format!("No customer thread with id {id}"))
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        JsonError::from(error).into()
    }
}

impl From<body::ReadError> for ApiError {
    fn from(error: body::ReadError) -> Self {
        JsonError::from(error).into()
    }
}

impl From<tokio::time::error::Elapsed> for ApiError {
    fn from(error: tokio::time::error::Elapsed) -> Self {
        JsonError::from(error).into()
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Failed(error) => error.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Unauthorized => HttpResponse::Unauthorized()
                .content_type("application/json")
                .body(r#"{"token":"Missing or invalid token"}"#),
            Self::Failed(error) => error.error_response(),
        }
    }
}

/// The user behind the request's `token` header.
async fn authenticate(req: &HttpRequest, state: &MessagingRoutes) -> Result<User, ApiError> {
    let token = req
        .headers()
        .get("token")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| ApiKey::parse(value).ok())
        .ok_or(ApiError::Unauthorized)?;
    let hash = token.hash();
    if let Some(user) = state.tokens.get(hash.as_ref()) {
        return Ok(user);
    }
    let user = tokio::time::timeout(state.db_timeout, threads::user_for_token(&state.pool, &hash))
        .await??
        .ok_or(ApiError::Unauthorized)?;
    state.tokens.put(hash.as_ref(), user);
    Ok(user)
}

/// A JSON body (any media type is read as JSON, as Instaply's examples
/// always send it); a body that does not parse is a 400 under `body`.
async fn json_body(req: &HttpRequest, payload: web::Payload) -> Result<serde_json::Value, ApiError> {
    let bytes = body::read_limited(req, payload, MAX_BODY_BYTES).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::invalid(FieldErrors::single("body", format!("Invalid JSON: {e}"))))
}
