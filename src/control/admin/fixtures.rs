//! `POST /admin/fixtures`: the fixtures document as TOML or JSON, applied
//! whole or not at all.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, web};

use super::AdminError;
use crate::control::fixtures::Fixtures;
use crate::control::fixtures::storage::Applied;
use crate::platform::domain::FieldErrors;
use crate::platform::http::body;
use crate::startup::AppState;

/// Fixture documents describe whole tenants; 1 MiB is thousands of stores.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// Load a fixtures document (docs/ivr-hook.md §6) as TOML or JSON: all of it, or nothing.
#[utoipa::path(
    tag = "inspection",
    security(("admin_token" = [])),
    request_body(content(
        (String = "application/toml"),
        (FixturesDocument = "application/json"),
    )),
    responses(
        (status = 200, description = "What was upserted", body = Applied),
        (status = 400, description = "Where the document is wrong", body = FieldErrors,
            example = json!({"fixtures": "line 6: '+1 415': Not an E.164 phone number: expected '+', a digit 1-9, then 1 to 14 more digits"})),
        (status = 401, description = "Missing or wrong bearer token", body = FieldErrors),
        (status = 413, description = "Document over 1 MiB", body = FieldErrors),
        (status = 415, description = "Neither TOML nor JSON", body = FieldErrors),
        (status = 503, description = "The database cannot be reached", body = FieldErrors, headers(("Retry-After" = String))),
    )
)]
#[post("/fixtures")]
pub async fn load(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let json = is_json(&req)?;
    let bytes = body::read_limited(&req, payload, MAX_DOCUMENT_BYTES).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(invalid("body", "The document is empty"));
    }
    let source = String::from_utf8(bytes).map_err(|_| invalid("body", "The document is not UTF-8"))?;
    let level = state.phone_validation;
    let parsed = if json {
        Fixtures::from_json(&source, level)
    } else {
        Fixtures::from_toml(&source, level)
    };
    let fixtures = parsed.map_err(|e| invalid("fixtures", e.to_string()))?;
    let mut conn = state.pool.acquire().await?;
    let applied = crate::control::fixtures::storage::apply(&mut conn, &fixtures)
        .await
        .map_err(|e| match e {
            crate::control::fixtures::storage::ApplyError::Refused(refusal) => invalid("fixtures", refusal.to_string()),
            crate::control::fixtures::storage::ApplyError::Database(error) => AdminError::from(error),
        })?;
    Ok(HttpResponse::Ok().json(applied))
}

/// The fixtures document: organizations (with keys and stores) and opt-outs.
#[derive(utoipa::ToSchema)]
#[expect(
    dead_code,
    reason = "describes the body for the OpenAPI document; parsing is fixtures::Fixtures"
)]
struct FixturesDocument {
    #[schema(required = false)]
    organizations: Vec<OrganizationDocument>,
    #[schema(required = false)]
    opt_outs: Vec<OptOutDocument>,
}

#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes the body for the OpenAPI document")]
struct OrganizationDocument {
    name: String,
    #[schema(required = false)]
    api_keys: Vec<String>,
    welcome_message: Option<String>,
    #[schema(required = false)]
    stores: Vec<StoreDocument>,
}

#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes the body for the OpenAPI document")]
struct StoreDocument {
    name: String,
    /// Business numbers, E.164.
    #[schema(required = false)]
    phones: Vec<String>,
    /// Forwarding number, E.164; absent: no voice forwarding.
    forwarding: Option<String>,
    welcome_message: Option<String>,
}

#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes the body for the OpenAPI document")]
struct OptOutDocument {
    organization: String,
    phone: String,
}

/// JSON for `application/json` and `…+json`; TOML for `application/toml`,
/// `text/plain` or no Content-Type; anything else is refused.
fn is_json(req: &HttpRequest) -> Result<bool, AdminError> {
    let Some(essence) = body::request_media_type(req) else {
        return Ok(false);
    };
    match essence.unwrap_or_default().as_str() {
        "application/json" => Ok(true),
        json if json.starts_with("application/") && json.ends_with("+json") => Ok(true),
        "application/toml" | "text/toml" | "text/x-toml" | "text/plain" => Ok(false),
        other => {
            let message = format!("Unsupported Content-Type '{other}': send application/toml or application/json");
            Err(AdminError::Rejected(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                FieldErrors::single("body", message),
            ))
        }
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> AdminError {
    AdminError::invalid_fields(FieldErrors::single(field, message))
}
