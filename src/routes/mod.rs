//! HTTP only: each module maps one resource to the application and back.

pub mod admin;
pub mod body;
pub mod health;
pub mod ivr;

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

/// Unknown paths answer JSON too, so clients never have to parse HTML.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    HttpResponse::NotFound().json(serde_json::json!({ "path": format!("No route for {}", req.path()) }))
}
