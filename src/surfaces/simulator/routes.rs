//! `/admin/simulations` (mounted by the admin API, behind its token): play a
//! call and get its transcript; list and read past ones.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use sqlx::PgPool;
use utoipa_actix_web::service_config::ServiceConfig;

use super::engine::{self, Call};
use super::persona::Persona;
use super::storage::{self, SimulationItem};
use super::transcript::Transcript;
use super::twiml::Method;
use crate::platform::domain::FieldErrors;
use crate::platform::http::error::JsonError;
use crate::platform::http::{self as page, body};

/// What the simulation routes need.
pub struct SimulatorRoutes {
    pub pool: PgPool,
    pub db_timeout: Duration,
    pub client: reqwest::Client,
}

impl SimulatorRoutes {
    pub fn new(pool: PgPool, db_timeout: Duration) -> Self {
        Self {
            pool,
            db_timeout,
            client: engine::client(Duration::from_secs(5)),
        }
    }
}

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(simulate).service(list).service(show);
}

/// Longest a simulation may take in all (each request is bounded at 5 s).
const MAX_SIMULATION: Duration = Duration::from_secs(60);

/// A call to simulate.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulationRequest {
    /// The first TwiML document's URL (e.g. this gateway's `/v1/ivr?key=…`).
    #[schema(
        max_length = 2048,
        example = "http://127.0.0.1:8080/v1/ivr?key=a73d5034210f702515128ac61193cd21"
    )]
    url: String,
    /// `GET` or `POST` (default, as Twilio).
    #[schema(value_type = Option<String>, pattern = "^(GET|POST)$")]
    method: Option<Method>,
    #[schema(max_length = 32, example = "+14151234560")]
    from: String,
    #[schema(max_length = 32, example = "+14151234567")]
    to: String,
    #[serde(default)]
    persona: Persona,
    /// Signs every request with this Twilio auth token.
    #[schema(max_length = 128)]
    auth_token: Option<String>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct Simulated {
    id: i64,
    transcript: Transcript,
}

/// Plays a call and answers its transcript (journaled, and sent as an SSE `simulation` event).
#[utoipa::path(
    tag = "simulator",
    security(("admin_token" = [])),
    request_body = SimulationRequest,
    responses(
        (status = 200, description = "The call was played (whatever its ending)", body = Simulated),
        (status = 400, description = "A bad field, named", body = FieldErrors),
        (status = 401, description = "Missing or wrong bearer token", body = FieldErrors),
        (status = 413, description = "Body over 64 KiB", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[post("/simulations")]
pub async fn simulate(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<SimulatorRoutes>,
) -> Result<HttpResponse, JsonError> {
    let bytes = body::read_limited(&req, payload, 64 * 1024).await?;
    let request: SimulationRequest =
        serde_json::from_slice(&bytes).map_err(|e| JsonError::invalid("body", format!("Invalid simulation: {e}")))?;
    let url = reqwest::Url::parse(&request.url)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .ok_or_else(|| JsonError::invalid("url", "Expected an absolute http:// or https:// URL"))?;
    let mut errors = FieldErrors::default();
    for (field, value) in [("from", &request.from), ("to", &request.to)] {
        if value.is_empty() || value.len() > 32 || value.chars().any(char::is_control) {
            errors.push(field, "Expected 1 to 32 characters, none of them control characters");
        }
    }
    if request
        .auth_token
        .as_ref()
        .is_some_and(|token| token.is_empty() || token.len() > 128)
    {
        errors.push("auth_token", "Expected 1 to 128 characters");
    }
    if request.url.len() > 2048 || request.url.contains('\0') {
        errors.push("url", "Expected at most 2048 characters, no NUL");
    }
    if request.persona.presses.len() > 100
        || request
            .persona
            .presses
            .iter()
            .any(|keys| keys.len() > 32 || !keys.chars().all(|k| k.is_ascii_digit() || k == '*' || k == '#'))
    {
        errors.push(
            "persona",
            "presses: at most 100 entries of up to 32 keys among 0-9, * and #",
        );
    }
    if !errors.is_empty() {
        return Err(JsonError::Rejected(actix_web::http::StatusCode::BAD_REQUEST, errors));
    }
    let call = Call {
        url: url.to_string(),
        method: request.method.unwrap_or(Method::Post),
        from: request.from,
        to: request.to,
        persona: request.persona,
        auth_token: request.auth_token,
        first_params: Vec::new(),
        first_json: None,
    };
    let transcript = match tokio::time::timeout(MAX_SIMULATION, engine::play(&state.client, &call)).await {
        Ok(transcript) => transcript,
        Err(_) => {
            return Err(JsonError::invalid(
                "url",
                format!("The call took longer than {} s", MAX_SIMULATION.as_secs()),
            ));
        }
    };
    // Journaled as the transcript shows it: a `key` in the URL masked.
    let shown = match transcript.steps.first() {
        Some(super::Step::Request { url, .. }) => url.clone(),
        _ => "(not requested)".to_owned(),
    };
    let id = tokio::time::timeout(
        state.db_timeout,
        storage::record(&state.pool, &shown, &call.persona, &transcript),
    )
    .await??;
    Ok(HttpResponse::Ok().json(Simulated { id, transcript }))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
struct Items {
    items: Vec<SimulationItem>,
}

/// Simulated calls, newest first.
#[utoipa::path(
    tag = "simulator",
    security(("admin_token" = [])),
    params(("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Items (default 50)")),
    responses(
        (status = 200, body = Items),
        (status = 400, description = "A bad limit", body = FieldErrors),
        (status = 401, description = "Missing or wrong bearer token", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[get("/simulations")]
pub async fn list(req: HttpRequest, state: web::Data<SimulatorRoutes>) -> Result<HttpResponse, JsonError> {
    let mut limit = page::DEFAULT_PAGE;
    for (name, value) in form_urlencoded::parse(req.query_string().as_bytes()) {
        match name.as_ref() {
            "limit" => {
                limit = page::page_limit(&value)
                    .ok_or_else(|| JsonError::invalid("limit", "Must be a whole number from 1 to 500"))?
            }
            other => {
                let other: String = other.chars().take(40).collect();
                return Err(JsonError::invalid(
                    "query",
                    format!("Unknown parameter '{other}': use limit"),
                ));
            }
        }
    }
    let items = tokio::time::timeout(state.db_timeout, storage::list(&state.pool, limit)).await??;
    Ok(HttpResponse::Ok().json(Items { items }))
}

/// One simulated call, with its transcript.
#[utoipa::path(
    tag = "simulator",
    security(("admin_token" = [])),
    params(("id" = String, Path)),
    responses(
        (status = 200, body = SimulationItem),
        (status = 401, description = "Missing or wrong bearer token", body = FieldErrors),
        (status = 404, description = "No such simulation", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[get("/simulations/{id}")]
pub async fn show(path: web::Path<String>, state: web::Data<SimulatorRoutes>) -> Result<HttpResponse, JsonError> {
    let shown: String = path.chars().take(40).collect();
    let missing = || JsonError::not_found("simulation", format!("No simulation with id {shown}"));
    let id = path.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(missing)?;
    let item = tokio::time::timeout(state.db_timeout, storage::get(&state.pool, id))
        .await??
        .ok_or_else(missing)?;
    Ok(HttpResponse::Ok().json(item))
}
