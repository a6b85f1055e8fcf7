//! What every route does with a request's body: read it under a size limit
//! without buffering past it, and tell its media type.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;

use crate::platform::domain::FieldErrors;

/// Why a body could not be read, in the sentence every route answers with
/// under `"body"`.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("Request body over {0} bytes")]
    TooLarge(usize),
    #[error("Could not read the request body: {0}")]
    Unreadable(String),
}

impl ReadError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unreadable(_) => StatusCode::BAD_REQUEST,
        }
    }

    pub fn to_field_errors(&self) -> FieldErrors {
        FieldErrors::single("body", self.to_string())
    }
}

/// A Content-Type's essence, lower-cased and without parameters
/// (`Application/JSON; charset=x` is `application/json`); `Err` with the raw
/// value (at most 100 characters) when it is not text.
pub fn media_type(header: &[u8]) -> Result<String, String> {
    let raw = || String::from_utf8_lossy(header).chars().take(100).collect::<String>();
    let value = std::str::from_utf8(header).map_err(|_| raw())?;
    Ok(value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
}

/// The request's media type; `None` without a Content-Type.
pub fn request_media_type(req: &HttpRequest) -> Option<Result<String, String>> {
    req.headers()
        .get(CONTENT_TYPE)
        .map(|value| media_type(value.as_bytes()))
}

/// Refuses an oversized body from its Content-Length at once, and otherwise
/// stops reading as soon as `limit` is passed (a chunked body has no length).
pub async fn read_limited(req: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, ReadError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ReadError::TooLarge(limit));
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ReadError::Unreadable(e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
