//! Reading and refusing admin request bodies and paths, consistently.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::AdminError;
use crate::platform::directory::tenants::Change;
use crate::platform::domain::{FieldErrors, PhoneNumber, PhoneValidation};
use crate::platform::http::body;

/// Admin documents are small; this is generous.
const MAX_JSON_BYTES: usize = 64 * 1024;

/// Reads a JSON body into `T`; every failure is a 4xx under `body`.
pub async fn read<T: DeserializeOwned>(req: &HttpRequest, payload: web::Payload) -> Result<T, AdminError> {
    let bytes = body::read_limited(req, payload, MAX_JSON_BYTES).await?;
    // serde would read a struct from a JSON array too; a request is an object.
    if !bytes.trim_ascii_start().starts_with(b"{") {
        return Err(rejected(StatusCode::BAD_REQUEST, "body", "Expected a JSON object"));
    }
    serde_json::from_slice(&bytes).map_err(|e| rejected(StatusCode::BAD_REQUEST, "body", format!("Invalid JSON: {e}")))
}

/// A 4xx with one field sentence.
pub fn rejected(status: StatusCode, field: &'static str, message: impl Into<String>) -> AdminError {
    AdminError::Rejected(status, FieldErrors::single(field, message))
}

/// The numeric id in a path, or a 404 naming what was looked for.
pub fn id(raw: &str, what: &'static str) -> Result<i64, AdminError> {
    raw.parse().ok().filter(|id| *id > 0).ok_or_else(|| missing(what, raw))
}

/// The `{id}` and `{phone}` of a path: a 404 naming `what` for a bad id, a 400
/// for a number that could not be stored.
pub fn id_and_phone(
    (id, phone): (String, String),
    what: &'static str,
    level: PhoneValidation,
) -> Result<(i64, PhoneNumber), AdminError> {
    let id = self::id(&id, what)?;
    let phone = PhoneNumber::parse(&phone, level.for_stored_numbers())
        .map_err(|e| rejected(StatusCode::BAD_REQUEST, "phone", e.to_string()))?;
    Ok((id, phone))
}

/// 404 `{"<what>":"No <what> with id <id>"}`.
pub fn missing(what: &'static str, id: impl std::fmt::Display) -> AdminError {
    rejected(StatusCode::NOT_FOUND, what, format!("No {what} with id {id}"))
}

/// Maps the unique violation `constraint` to a 409 on `field`; any other
/// database error stays a 503.
pub fn conflict(error: sqlx::Error, constraint: &str, field: &'static str, message: impl Into<String>) -> AdminError {
    match &error {
        sqlx::Error::Database(db) if db.constraint() == Some(constraint) => {
            rejected(StatusCode::CONFLICT, field, message)
        }
        _ => AdminError::from(error),
    }
}

/// For `#[serde(default, deserialize_with = "change")]`: absent keeps,
/// `null` clears, a value sets.
pub fn change<'de, D, T>(deserializer: D) -> Result<Change<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(match Option::<T>::deserialize(deserializer)? {
        Some(value) => Change::Set(value),
        None => Change::Clear,
    })
}

/// Parses a `Change` of raw text into a `Change` of a domain type, recording
/// the failure under `field`.
pub fn parse_change<T, E: std::fmt::Display>(
    change: &Change<String>,
    field: &'static str,
    errors: &mut FieldErrors,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Change<T> {
    match change {
        Change::Keep => Change::Keep,
        Change::Clear => Change::Clear,
        Change::Set(raw) => match parse(raw) {
            Ok(value) => Change::Set(value),
            Err(error) => {
                errors.push(field, error.to_string());
                Change::Keep
            }
        },
    }
}
