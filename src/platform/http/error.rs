//! The error every JSON route can answer: a client error with one sentence
//! per field, or the database being away (a 503 whose cause is logged only).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::platform::domain::FieldErrors;

#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    #[error("rejected with {0}")]
    Rejected(StatusCode, FieldErrors),
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

impl JsonError {
    /// A 400 naming every bad field.
    pub fn invalid_fields(errors: FieldErrors) -> Self {
        Self::Rejected(StatusCode::BAD_REQUEST, errors)
    }

    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Rejected(StatusCode::BAD_REQUEST, FieldErrors::single(field, message))
    }

    pub fn not_found(field: &'static str, message: impl Into<String>) -> Self {
        Self::Rejected(StatusCode::NOT_FOUND, FieldErrors::single(field, message))
    }
}

impl From<sqlx::Error> for JsonError {
    fn from(error: sqlx::Error) -> Self {
        Self::Unavailable(error.to_string())
    }
}

impl From<tokio::time::error::Elapsed> for JsonError {
    fn from(_: tokio::time::error::Elapsed) -> Self {
        Self::Unavailable("the database did not answer within IVR_DB_TIMEOUT".to_owned())
    }
}

impl From<super::body::ReadError> for JsonError {
    fn from(error: super::body::ReadError) -> Self {
        Self::Rejected(error.status(), error.to_field_errors())
    }
}

impl ResponseError for JsonError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Rejected(status, _) => *status,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Rejected(status, errors) => HttpResponse::build(*status)
                .content_type("application/json")
                .body(errors.to_json()),
            Self::Unavailable(cause) => {
                tracing::warn!(%cause, "answering 503");
                super::unavailable()
            }
        }
    }
}
