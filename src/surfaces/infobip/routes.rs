//! `/infobip/voice/ivr/1/scenarios…`, the launch (`…/ivr/1/messages`) and
//! the reports' pull (`/infobip/voice/1/reports`), with Infobip's
//! authentication and error shapes.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, ResponseError, delete, get, post, put, web};
use base64::Engine;
use serde_json::{Value, json};
use sqlx::PgPool;
use utoipa_actix_web::service_config::ServiceConfig;

use super::calls::{self, LaunchError};
use super::launch as launch_body;
use super::report::PENDING_ACCEPTED;
use super::reports;
use super::scenario::{self, Errors};
use super::storage::{self, Scenario};
use crate::platform::domain::ApiKey;
use crate::platform::http::body;

pub struct InfobipRoutes {
    pub pool: PgPool,
    pub db_timeout: Duration,
}

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(create_scenario)
        .service(list_scenarios)
        .service(show_scenario)
        .service(update_scenario)
        .service(delete_scenario)
        .service(launch)
        .service(pull_reports);
}

/// Infobip's errors: `{"requestError":{"serviceException":{messageId, text, validationErrors?}}}`.
#[derive(Debug, thiserror::Error)]
pub enum InfobipError {
    #[error("{1}")]
    Service(StatusCode, &'static str, String),
    #[error("bad request")]
    Invalid(Errors),
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

impl From<sqlx::Error> for InfobipError {
    fn from(error: sqlx::Error) -> Self {
        Self::Unavailable(error.to_string())
    }
}

impl From<tokio::time::error::Elapsed> for InfobipError {
    fn from(_: tokio::time::error::Elapsed) -> Self {
        Self::Unavailable("the database did not answer within IVR_DB_TIMEOUT".into())
    }
}

impl From<body::ReadError> for InfobipError {
    fn from(error: body::ReadError) -> Self {
        Self::Service(error.status(), "BAD_REQUEST", error.to_string())
    }
}

impl ResponseError for InfobipError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Service(status, ..) => *status,
            Self::Invalid(_) => StatusCode::BAD_REQUEST,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let exception = match self {
            Self::Service(_, id, text) => json!({"messageId": id, "text": text}),
            Self::Invalid(errors) => {
                json!({"messageId": "BAD_REQUEST", "text": "Bad request", "validationErrors": errors})
            }
            Self::Unavailable(cause) => {
                tracing::warn!(%cause, "Infobip API answering 503");
                json!({"messageId": "SERVICE_UNAVAILABLE", "text": "Service temporarily unavailable"})
            }
        };
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, Self::Unavailable(_)) {
            response.insert_header((header::RETRY_AFTER, "1"));
        }
        response
            .content_type(ContentType::json())
            .body(json!({"requestError": {"serviceException": exception}}).to_string())
    }
}

fn unauthorized() -> InfobipError {
    InfobipError::Service(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Invalid login details".into())
}

/// The account behind `Authorization: App <key>` or `Basic <user:password>`.
async fn account(req: &HttpRequest, state: &InfobipRoutes) -> Result<i64, InfobipError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(unauthorized)?;
    let found = if let Some(key) = value.strip_prefix("App ") {
        let key = ApiKey::parse(key.trim()).map_err(|_| unauthorized())?;
        tokio::time::timeout(state.db_timeout, storage::account_for_api_key(&state.pool, &key.hash())).await??
    } else if let Some(encoded) = value.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(unauthorized)?;
        let (username, password) = decoded.split_once(':').ok_or_else(unauthorized)?;
        let password = ApiKey::parse(password).map_err(|_| unauthorized())?;
        if username.is_empty() || username.len() > 256 || username.contains('\0') {
            return Err(unauthorized());
        }
        tokio::time::timeout(
            state.db_timeout,
            storage::account_for_login(&state.pool, username, &password.hash()),
        )
        .await??
    } else {
        None
    };
    found.ok_or_else(unauthorized)
}

async fn scenario_body(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(String, Option<String>, Value), InfobipError> {
    let body = json_body(req, payload, 256 * 1024).await?;
    scenario::check(&body).map_err(InfobipError::Invalid)
}

/// A JSON body up to `limit` bytes; anything else is Infobip's 400 (or a 413).
async fn json_body(req: &HttpRequest, payload: web::Payload, limit: usize) -> Result<Value, InfobipError> {
    let bytes = body::read_limited(req, payload, limit).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| InfobipError::Service(StatusCode::BAD_REQUEST, "BAD_REQUEST", format!("Invalid JSON: {e}")))
}

fn not_found() -> InfobipError {
    InfobipError::Service(StatusCode::NOT_FOUND, "NOT_FOUND", "Scenario not found".into())
}

/// A scenario's path id: Infobip's are 32 hexadecimal characters.
fn scenario_id(raw: &str) -> Result<&str, InfobipError> {
    (raw.len() <= 64 && raw.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some(raw)
        .ok_or_else(not_found)
}

#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes the body for the OpenAPI document")]
struct ScenarioBody {
    #[schema(min_length = 1, max_length = 256)]
    name: String,
    #[schema(max_length = 1024)]
    description: Option<String>,
    /// Actions: say, play, pause, collectInto, switch/case, if/then/else, goTo, label, dial, request, sendSms, setVariable, record, hangup, repeat.
    #[schema(value_type = Vec<Object>, min_items = 1)]
    script: Vec<Value>,
}

/// Creates a scenario.
#[utoipa::path(
    tag = "infobip",
    security(("infobip_auth" = [])),
    request_body = ScenarioBody,
    responses(
        (status = 200, description = "Created", body = Scenario),
        (status = 400, description = "Infobip's validation errors, e.g. an unsupported action named with its path",
            example = json!({"requestError": {"serviceException": {"messageId": "BAD_REQUEST", "text": "Bad request",
                "validationErrors": {"script[1]": ["unsupported action 'capture'"]}}}})),
        (status = 401, description = "Invalid login details"),
        (status = 413, description = "Body over 256 KiB"),
        (status = 503, description = "The database cannot be reached"),
    )
)]
#[post("/infobip/voice/ivr/1/scenarios")]
pub async fn create_scenario(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<InfobipRoutes>,
) -> Result<HttpResponse, InfobipError> {
    let account = account(&req, &state).await?;
    let (name, description, script) = scenario_body(&req, payload).await?;
    let created = tokio::time::timeout(
        state.db_timeout,
        storage::create(&state.pool, account, &name, description.as_deref(), &script),
    )
    .await??;
    Ok(HttpResponse::Ok().json(created))
}

/// The account's scenarios, oldest first, `page` (from 0) of `size` (at most 100).
#[utoipa::path(
    tag = "infobip",
    security(("infobip_auth" = [])),
    params(("page" = Option<i64>, Query, minimum = 0, maximum = 10000), ("size" = Option<i64>, Query, minimum = 1, maximum = 100)),
    responses(
        (status = 200, description = "Scenarios", body = Vec<Scenario>),
        (status = 400, description = "A bad page or size"),
        (status = 401, description = "Invalid login details"),
        (status = 503, description = "The database cannot be reached"),
    )
)]
#[get("/infobip/voice/ivr/1/scenarios")]
pub async fn list_scenarios(req: HttpRequest, state: web::Data<InfobipRoutes>) -> Result<HttpResponse, InfobipError> {
    let account = account(&req, &state).await?;
    let (mut page, mut size) = (0, 20);
    for (name, value) in form_urlencoded::parse(req.query_string().as_bytes()) {
        let number = value.parse::<i64>().ok();
        match name.as_ref() {
            "page" => {
                page = number
                    .filter(|n| (0..=10_000).contains(n))
                    .ok_or_else(|| bad_query("page", "must be 0 to 10000"))?
            }
            "size" => {
                size = number
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| bad_query("size", "must be 1 to 100"))?
            }
            _ => {}
        }
    }
    let scenarios = tokio::time::timeout(state.db_timeout, storage::list(&state.pool, account, page, size)).await??;
    Ok(HttpResponse::Ok().json(scenarios))
}

fn bad_query(field: &str, message: &str) -> InfobipError {
    InfobipError::Invalid([(field.to_owned(), vec![message.to_owned()])].into())
}

/// One scenario.
#[utoipa::path(
    tag = "infobip",
    security(("infobip_auth" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, description = "The scenario", body = Scenario),
        (status = 401, description = "Invalid login details"),
        (status = 404, description = "No such scenario in this account"),
        (status = 503, description = "The database cannot be reached"),
    )
)]
#[get("/infobip/voice/ivr/1/scenarios/{id}")]
pub async fn show_scenario(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<InfobipRoutes>,
) -> Result<HttpResponse, InfobipError> {
    let account = account(&req, &state).await?;
    let id = scenario_id(&path)?;
    let found = tokio::time::timeout(state.db_timeout, storage::get(&state.pool, account, id))
        .await??
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(found))
}

/// Replaces a scenario's name, description and script.
#[utoipa::path(
    tag = "infobip",
    security(("infobip_auth" = [])),
    params(("id" = String, Path)),
    request_body = ScenarioBody,
    responses(
        (status = 200, description = "Updated", body = Scenario),
        (status = 400, description = "Infobip's validation errors"),
        (status = 401, description = "Invalid login details"),
        (status = 404, description = "No such scenario in this account"),
        (status = 413, description = "Body over 256 KiB"),
        (status = 503, description = "The database cannot be reached"),
    )
)]
#[put("/infobip/voice/ivr/1/scenarios/{id}")]
pub async fn update_scenario(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<InfobipRoutes>,
) -> Result<HttpResponse, InfobipError> {
    let account = account(&req, &state).await?;
    let id = scenario_id(&path)?;
    let (name, description, script) = scenario_body(&req, payload).await?;
    let updated = tokio::time::timeout(
        state.db_timeout,
        storage::update(&state.pool, account, id, &name, description.as_deref(), &script),
    )
    .await??
    .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(updated))
}

/// Deletes a scenario.
#[utoipa::path(
    tag = "infobip",
    security(("infobip_auth" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Invalid login details"),
        (status = 404, description = "No such scenario in this account"),
        (status = 503, description = "The database cannot be reached"),
    )
)]
#[delete("/infobip/voice/ivr/1/scenarios/{id}")]
pub async fn delete_scenario(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<InfobipRoutes>,
) -> Result<HttpResponse, InfobipError> {
    let account = account(&req, &state).await?;
    let id = scenario_id(&path)?;
    if !tokio::time::timeout(state.db_timeout, storage::delete(&state.pool, account, id)).await?? {
        return Err(not_found());
    }
    Ok(HttpResponse::NoContent().finish())
}

/// A launch body's limit: 20,000 destinations with ids fit in well under it.
const MAX_LAUNCH_BYTES: usize = 8 * 1024 * 1024;

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "camelCase")]
#[expect(dead_code, reason = "describes the body for the OpenAPI document")]
struct LaunchBody {
    /// Generated when absent; unique per account.
    #[schema(max_length = 100)]
    bulk_id: Option<String>,
    /// The SDK's `CallsIvrMessage`s: scenarioId, from, destinations[{to, messageId}], parameters, notifyUrl,
    /// notifyContentType, notifyContentVersion, callbackData (≤ 200), validityPeriod (minutes, clamped to 2880),
    /// sendAt, retry{minPeriod, maxPeriod, maxCount}, sendingSpeed{speed, timeUnit}; 20,000 destinations in all.
    #[schema(value_type = Vec<Object>, min_items = 1)]
    messages: Vec<Value>,
}

/// Launches a scenario to many destinations: each is called at `sendAt` (or at once) at the sending speed,
/// retried while busy or unanswered, and reported to `notifyUrl`.
#[utoipa::path(
    tag = "infobip",
    security(("infobip_auth" = [])),
    request_body = LaunchBody,
    responses(
        (status = 200, description = "Accepted: every destination PENDING_ACCEPTED",
            example = json!({"bulkId": "2034072219640523073", "messages": [{"to": "41793026727",
                "status": {"groupId": 1, "groupName": "PENDING", "id": 26, "name": "PENDING_ACCEPTED", "description": "Message sent to next instance"},
                "messageId": "2250be2d4219-3af1-78856-aabe-1362af1edfd2"}]})),
        (status = 400, description = "Infobip's validation errors, by path",
            example = json!({"requestError": {"serviceException": {"messageId": "BAD_REQUEST", "text": "Bad request",
                "validationErrors": {"messages[0].callbackData": ["size must be between 0 and 200"]}}}})),
        (status = 401, description = "Invalid login details"),
        (status = 413, description = "Body over 8 MiB"),
        (status = 503, description = "The database cannot be reached"),
    )
)]
#[post("/infobip/voice/ivr/1/messages")]
pub async fn launch(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<InfobipRoutes>,
) -> Result<HttpResponse, InfobipError> {
    let account = account(&req, &state).await?;
    let body = json_body(&req, payload, MAX_LAUNCH_BYTES).await?;
    let checked = launch_body::check(&body, chrono::Utc::now()).map_err(InfobipError::Invalid)?;
    let accepted =
        match tokio::time::timeout(state.db_timeout, calls::insert_launch(&state.pool, account, &checked)).await? {
            Ok(accepted) => accepted,
            Err(LaunchError::Invalid(errors)) => return Err(InfobipError::Invalid(errors)),
            Err(LaunchError::Database(error)) => return Err(error.into()),
        };
    let status = PENDING_ACCEPTED.status();
    let messages: Vec<Value> = accepted
        .destinations
        .iter()
        .map(|(to, message_id)| json!({"to": to, "status": status, "messageId": message_id}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"bulkId": accepted.bulk_id, "messages": messages})))
}

/// Reports not pulled yet, oldest first: each is returned once (pushed ones too).
#[utoipa::path(
    tag = "infobip",
    security(("infobip_auth" = [])),
    params(
        ("bulkId" = Option<String>, Query, max_length = 100),
        ("messageId" = Option<String>, Query, max_length = 200),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Reports (default 50)"),
    ),
    responses(
        (status = 200, description = "`{\"results\": [CallsReport…]}`"),
        (status = 400, description = "A bad limit"),
        (status = 401, description = "Invalid login details"),
        (status = 503, description = "The database cannot be reached"),
    )
)]
#[get("/infobip/voice/1/reports")]
pub async fn pull_reports(req: HttpRequest, state: web::Data<InfobipRoutes>) -> Result<HttpResponse, InfobipError> {
    let account = account(&req, &state).await?;
    let (mut bulk_id, mut message_id, mut limit) = (None, None, 50);
    for (name, value) in form_urlencoded::parse(req.query_string().as_bytes()) {
        match name.as_ref() {
            "bulkId" if value.len() <= 100 && !value.contains('\0') => bulk_id = Some(value.into_owned()),
            "messageId" if value.len() <= 200 && !value.contains('\0') => message_id = Some(value.into_owned()),
            "bulkId" | "messageId" => return Err(bad_query(&name, "too long or holds NUL")),
            "limit" => {
                limit = value
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| bad_query("limit", "must be 1 to 1000"))?
            }
            _ => {}
        }
    }
    let results = tokio::time::timeout(
        state.db_timeout,
        reports::pull(&state.pool, account, bulk_id.as_deref(), message_id.as_deref(), limit),
    )
    .await??;
    Ok(HttpResponse::Ok().json(json!({"results": results})))
}
