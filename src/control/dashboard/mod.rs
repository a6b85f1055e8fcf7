//! The dashboard (`/`): a page over the admin API and its event stream, its
//! assets built into the binary (no build step, nothing fetched from
//! elsewhere). The page holds no data: everything it shows comes from
//! `/admin`, with the admin token when one is set.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, ContentType, X_CONTENT_TYPE_OPTIONS};
use actix_web::{HttpResponse, get};
use utoipa_actix_web::service_config::ServiceConfig;

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");

/// Only this origin's own files and API: no inline script, no third party.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; \
                      form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

pub fn configure(cfg: &mut ServiceConfig<'_>) {
    cfg.service(index).service(script).service(style);
}

fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((actix_web::http::header::CONTENT_TYPE, content_type))
        .insert_header((CONTENT_SECURITY_POLICY, POLICY))
        .insert_header((X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// The dashboard.
#[utoipa::path(tag = "dashboard", responses((status = 200, description = "The dashboard page", body = String, content_type = "text/html; charset=utf-8")))]
#[get("/")]
pub async fn index() -> HttpResponse {
    asset(&ContentType::html().to_string(), INDEX)
}

/// The dashboard's script.
#[utoipa::path(tag = "dashboard", responses((status = 200, description = "JavaScript", body = String, content_type = "text/javascript; charset=utf-8")))]
#[get("/dashboard/app.js")]
pub async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// The dashboard's style sheet.
#[utoipa::path(tag = "dashboard", responses((status = 200, description = "CSS", body = String, content_type = "text/css; charset=utf-8")))]
#[get("/dashboard/app.css")]
pub async fn style() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLE)
}
