//! `/admin/simulations` (mounted by the admin API, behind its token): play a
//! call and get its transcript; list and read past ones.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use serde::Deserialize;
use sqlx::PgPool;
use utoipa_actix_web::service_config::ServiceConfig;

use super::engine::{self, Call};
use super::persona::Persona;
use super::storage::{self, NumberPersona, SimulationItem};
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
    cfg.service(simulate)
        .service(list)
        .service(show)
        .service(list_personas)
        .service(put_persona)
        .service(delete_persona);
}

/// A persona's bounds: what a person on a phone can do.
pub fn check_persona(persona: &Persona) -> Result<(), &'static str> {
    let keys_ok = persona.presses.len() <= 100
        && persona
            .presses
            .iter()
            .all(|keys| keys.len() <= 32 && keys.chars().all(|k| k.is_ascii_digit() || k == '*' || k == '#'));
    let dial_ok = persona.dial.len() <= 100
        && persona
            .dial
            .keys()
            .all(|number| !number.is_empty() && number.len() <= 32 && !number.contains('\0'));
    if keys_ok && dial_ok {
        Ok(())
    } else {
        Err("presses: at most 100 entries of up to 32 keys among 0-9, * and #; dial: at most 100 numbers")
    }
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
    if let Err(problem) = check_persona(&request.persona) {
        errors.push("persona", problem);
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

#[derive(serde::Serialize, utoipa::ToSchema)]
struct PersonaItems {
    items: Vec<NumberPersona>,
}

/// Numbers with a persona: how each answers the simulator's calls (an
/// Infobip launch's destinations). Any other number answers and presses nothing.
#[utoipa::path(
    tag = "simulator",
    security(("admin_token" = [])),
    responses(
        (status = 200, body = PersonaItems),
        (status = 401, description = "Missing or wrong bearer token", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[get("/personas")]
pub async fn list_personas(state: web::Data<SimulatorRoutes>) -> Result<HttpResponse, JsonError> {
    let items = tokio::time::timeout(state.db_timeout, storage::list_personas(&state.pool)).await??;
    Ok(HttpResponse::Ok().json(PersonaItems { items }))
}

/// The number in a persona's path: digits, optionally after a `+`.
fn persona_number(raw: &str) -> Result<&str, JsonError> {
    let digits = raw.strip_prefix('+').unwrap_or(raw);
    if (3..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(raw)
    } else {
        Err(JsonError::invalid(
            "number",
            "Expected 3 to 15 digits, optionally after a +",
        ))
    }
}

/// Sets how a number answers, e.g. `{"answer": "busy"}` or `{"presses": ["1", "42#"]}`.
#[utoipa::path(
    tag = "simulator",
    security(("admin_token" = [])),
    params(("number" = String, Path, pattern = "^[+]?[0-9]{3,15}$", example = "41793026727")),
    request_body = Persona,
    responses(
        (status = 200, body = NumberPersona),
        (status = 400, description = "A bad number or persona, named", body = FieldErrors),
        (status = 401, description = "Missing or wrong bearer token", body = FieldErrors),
        (status = 413, description = "Body over 64 KiB", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[put("/personas/{number}")]
pub async fn put_persona(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<SimulatorRoutes>,
) -> Result<HttpResponse, JsonError> {
    let number = persona_number(&path)?.to_owned();
    let bytes = body::read_limited(&req, payload, 64 * 1024).await?;
    let persona: Persona =
        serde_json::from_slice(&bytes).map_err(|e| JsonError::invalid("persona", format!("Invalid persona: {e}")))?;
    check_persona(&persona).map_err(|problem| JsonError::invalid("persona", problem))?;
    let mut conn = tokio::time::timeout(state.db_timeout, state.pool.acquire()).await??;
    tokio::time::timeout(state.db_timeout, storage::put_persona(&mut conn, &number, &persona)).await??;
    Ok(HttpResponse::Ok().json(NumberPersona { number, persona }))
}

/// Forgets a number's persona: it answers and presses nothing again.
#[utoipa::path(
    tag = "simulator",
    security(("admin_token" = [])),
    params(("number" = String, Path, pattern = "^[+]?[0-9]{3,15}$", example = "41793026727")),
    responses(
        (status = 204, description = "Forgotten"),
        (status = 400, description = "A bad number", body = FieldErrors),
        (status = 401, description = "Missing or wrong bearer token", body = FieldErrors),
        (status = 404, description = "That number has no persona", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[delete("/personas/{number}")]
pub async fn delete_persona(
    path: web::Path<String>,
    state: web::Data<SimulatorRoutes>,
) -> Result<HttpResponse, JsonError> {
    let number = persona_number(&path)?;
    if !tokio::time::timeout(state.db_timeout, storage::delete_persona(&state.pool, number)).await?? {
        return Err(JsonError::not_found("number", format!("{number} has no persona")));
    }
    Ok(HttpResponse::NoContent().finish())
}
