//! `/healthz` (the process answers) and `/readyz` (the database is reachable
//! and migrated), for orchestrators and for tests waiting on a start.

use actix_web::{HttpResponse, get, web};
use utoipa_actix_web::service_config::ServiceConfig;

use super::Database;
use crate::platform::domain::FieldErrors;

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(healthz).service(readyz);
}

/// The process is up.
#[utoipa::path(tag = "health", responses((status = 200, body = inline(Status), example = json!({"status": "ok"}))))]
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// The database is reachable and at this binary's schema version.
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, body = inline(Status), example = json!({"status": "ready"})),
        (status = 503, body = FieldErrors, headers(("Retry-After" = String)), example = json!({"service": "Temporarily unavailable"})),
    )
)]
#[get("/readyz")]
async fn readyz(database: web::Data<Database>) -> HttpResponse {
    match tokio::time::timeout(database.timeout, crate::platform::db::is_ready(&database.pool)).await {
        Ok(true) => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        _ => super::unavailable(),
    }
}

/// `{"status": …}`.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes the body for the OpenAPI document")]
struct Status {
    status: String,
}
