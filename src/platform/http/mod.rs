//! The HTTP edge every surface shares: bodies and content types, the 503,
//! JSON 404s and 405s derived from the OpenAPI document, health.

pub mod body;
pub mod error;
pub mod health;
pub mod long_uri;

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, web};
use sqlx::PgPool;

/// The serving pool and the bound on a request's database work, for the
/// routes that need nothing else.
#[derive(Clone, Debug)]
pub struct Database {
    pub pool: PgPool,
    pub timeout: Duration,
}

/// Most items one listing page holds, in every admin listing.
pub const MAX_PAGE: i64 = 500;
/// Items a listing page holds when no `limit` is given.
pub const DEFAULT_PAGE: i64 = 50;

/// A listing's `limit`: a whole number from 1 to [`MAX_PAGE`].
pub fn page_limit(raw: &str) -> Option<i64> {
    raw.parse().ok().filter(|n| (1..=MAX_PAGE).contains(n))
}

/// The contract's 503 body, shared by every route that needs the database.
pub fn unavailable() -> HttpResponse {
    HttpResponse::build(StatusCode::SERVICE_UNAVAILABLE)
        .insert_header(ContentType::json())
        .insert_header((header::RETRY_AFTER, "1"))
        .body(r#"{"service":"Temporarily unavailable"}"#)
}

/// Which methods each documented path answers, read from the OpenAPI
/// document, so that a 405 and its `Allow` follow the handlers themselves.
#[derive(Clone, Debug, Default)]
pub struct AllowedMethods(Vec<(Vec<String>, String)>);

/// The order methods are listed in `Allow`.
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

impl AllowedMethods {
    pub fn from_openapi(document: &utoipa::openapi::OpenApi) -> Self {
        let paths = serde_json::to_value(&document.paths).unwrap_or_default();
        let Some(paths) = paths.as_object() else {
            return Self::default();
        };
        let table = paths
            .iter()
            .map(|(template, item)| {
                let allow: Vec<String> = METHODS
                    .iter()
                    .filter(|m| item.get(**m).is_some())
                    .map(|m| m.to_uppercase())
                    .collect();
                (segments(template).map(str::to_owned).collect(), allow.join(", "))
            })
            .collect();
        Self(table)
    }

    /// The `Allow` value of the documented path `path` matches, if any
    /// (a `{parameter}` segment matches any one segment).
    fn allow(&self, path: &str) -> Option<&str> {
        let wanted: Vec<&str> = segments(path).collect();
        self.0
            .iter()
            .find(|(template, _)| {
                template.len() == wanted.len()
                    && template.iter().zip(&wanted).all(|(t, w)| t.starts_with('{') || t == w)
            })
            .map(|(_, allow)| allow.as_str())
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|segment| !segment.is_empty())
}

/// What no handler answered: a 405 with `Allow` for a documented path asked
/// with another method, else a 404. Both JSON, so clients never parse HTML.
pub async fn fallback(req: HttpRequest, allowed: Option<web::Data<AllowedMethods>>) -> HttpResponse {
    match allowed.as_deref().and_then(|allowed| allowed.allow(req.path())) {
        Some(allow) => {
            let message = format!(
                "Method {} is not allowed: use {}",
                req.method(),
                allow.replace(", ", " or ")
            );
            HttpResponse::MethodNotAllowed()
                .insert_header((header::ALLOW, allow))
                .content_type(ContentType::json())
                .body(serde_json::json!({ "method": message }).to_string())
        }
        None => not_found(req).await,
    }
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    HttpResponse::NotFound().json(serde_json::json!({ "path": format!("No route for {}", req.path()) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_one_segment_per_parameter() {
        let allowed = AllowedMethods(vec![
            (
                vec!["admin".into(), "stores".into(), "{id}".into()],
                "GET, PATCH, DELETE".into(),
            ),
            (vec!["v1".into(), "ivr".into()], "GET, POST".into()),
        ]);
        assert_eq!(allowed.allow("/admin/stores/42"), Some("GET, PATCH, DELETE"));
        assert_eq!(allowed.allow("/v1/ivr"), Some("GET, POST"));
        assert_eq!(allowed.allow("/admin/stores/42/phones"), None);
        assert_eq!(allowed.allow("/admin/stores"), None);
        assert_eq!(allowed.allow("/v2/ivr"), None);
    }
}
