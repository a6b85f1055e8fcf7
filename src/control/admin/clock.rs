//! `GET /admin/clock`, `POST /admin/clock/advance` and `PUT /admin/clock`:
//! the emulator's clock (platform::clock), read, moved forward and sped up.

use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use serde::Deserialize;

use super::AdminError;
use crate::configuration::parse_duration;
use crate::platform::clock::{self, ClockState, MAX_ADVANCE, MAX_SPEED};
use crate::platform::domain::FieldErrors;
use crate::platform::http::body;
use crate::startup::AppState;

/// The emulator's time, its speed and how far ahead of real time it is.
#[utoipa::path(
    tag = "clock",
    security(("admin_token" = [])),
    responses(
        (status = 200, body = ClockState),
        (status = 401, description = "Missing or wrong bearer token", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[get("/clock")]
pub async fn show(state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let clock = tokio::time::timeout(state.db_timeout, clock::state(&state.pool)).await??;
    Ok(HttpResponse::Ok().json(clock))
}

/// How far to move the clock.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Advance {
    /// A duration: `90s`, `30m`, `2h`, `1d` (at most 366 days).
    #[schema(example = "30m", max_length = 32)]
    by: String,
}

/// Moves the emulator's time forward: scheduled calls, retries and expiries that became due run at once.
#[utoipa::path(
    tag = "clock",
    security(("admin_token" = [])),
    request_body = Advance,
    responses(
        (status = 200, description = "The clock after the move", body = ClockState),
        (status = 400, description = "A bad duration", body = FieldErrors),
        (status = 401, description = "Missing or wrong bearer token", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[post("/clock/advance")]
pub async fn advance(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let bytes = body::read_limited(&req, payload, 4096).await?;
    let request: Advance =
        serde_json::from_slice(&bytes).map_err(|e| AdminError::invalid("by", format!("Invalid body: {e}")))?;
    let by = Some(&request.by)
        .filter(|by| by.len() <= 32)
        .and_then(|by| parse_duration(by).ok())
        .filter(|by| *by <= MAX_ADVANCE)
        .ok_or_else(|| AdminError::invalid("by", "Must be a duration of at most 366d, e.g. 90s, 30m, 2h"))?;
    let clock = tokio::time::timeout(state.db_timeout, clock::advance(&state.pool, by)).await??;
    Ok(HttpResponse::Ok().json(clock))
}

/// The clock's speed.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Speed {
    /// Emulated seconds per real second: 1 is real time, 60 makes a minute pass each second.
    #[schema(minimum = 0.001, maximum = 100000, example = 60)]
    speed: f64,
}

/// Sets how fast the emulator's time runs from now on.
#[utoipa::path(
    tag = "clock",
    security(("admin_token" = [])),
    request_body = Speed,
    responses(
        (status = 200, description = "The clock at its new speed", body = ClockState),
        (status = 400, description = "A bad speed", body = FieldErrors),
        (status = 401, description = "Missing or wrong bearer token", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[put("/clock")]
pub async fn set_speed(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let bytes = body::read_limited(&req, payload, 4096).await?;
    let request: Speed =
        serde_json::from_slice(&bytes).map_err(|e| AdminError::invalid("speed", format!("Invalid body: {e}")))?;
    if !(request.speed >= 0.001 && clock::valid_speed(request.speed)) {
        return Err(AdminError::invalid(
            "speed",
            format!("Must be from 0.001 to {MAX_SPEED}"),
        ));
    }
    let clock = tokio::time::timeout(state.db_timeout, clock::set_speed(&state.pool, request.speed)).await??;
    Ok(HttpResponse::Ok().json(clock))
}
