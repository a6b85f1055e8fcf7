//! `/healthz` (the process answers) and `/readyz` (the database is reachable
//! and migrated), for orchestrators and for tests waiting on a start.

use actix_web::{HttpResponse, web};

use crate::startup::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match tokio::time::timeout(state.db_timeout, crate::db::is_ready(&state.pool)).await {
        Ok(true) => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        _ => super::unavailable(),
    }
}
