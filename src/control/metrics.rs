//! `GET /metrics`: Prometheus text exposition, with every surface's
//! scrape-time gauges refreshed first.

use actix_web::{HttpResponse, get, web};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::startup::AppState;

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(metrics);
}

/// Counters, histograms and gauges in Prometheus text format.
#[utoipa::path(tag = "health", responses(
    (status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain; version=0.0.4; charset=utf-8"),
))]
#[get("/metrics")]
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    crate::surfaces::instaply_ivr::metrics::refresh(&state.pool, state.db_timeout).await;
    let text = crate::platform::metrics::render(&state.pool);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text)
}
