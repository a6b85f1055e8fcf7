//! HTTP only: each module maps one resource to the application and back.

pub mod admin;
pub mod body;
pub mod health;
pub mod ivr;
pub mod metrics;
pub mod openapi;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse};

/// The contract's 503 body, shared by every route that needs the database.
pub fn unavailable() -> HttpResponse {
    HttpResponse::build(StatusCode::SERVICE_UNAVAILABLE)
        .insert_header(ContentType::json())
        .insert_header((header::RETRY_AFTER, "1"))
        .body(r#"{"service":"Temporarily unavailable"}"#)
}

/// A catch-all route for a path's other methods: 405 JSON with `Allow`.
/// Register it after the path's own handlers (they guard on their method).
pub fn only(allow: &'static str) -> actix_web::Route {
    actix_web::web::to(move |req: HttpRequest| async move {
        let message = format!(
            "Method {} is not allowed: use {}",
            req.method(),
            allow.replace(", ", " or ")
        );
        HttpResponse::MethodNotAllowed()
            .insert_header((header::ALLOW, allow))
            .content_type(ContentType::json())
            .body(serde_json::json!({ "method": message }).to_string())
    })
}

/// Unknown paths answer JSON too, so clients never have to parse HTML.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    HttpResponse::NotFound().json(serde_json::json!({ "path": format!("No route for {}", req.path()) }))
}
