//! Reading a request body under a size limit, without buffering past it.

use actix_web::http::header::CONTENT_LENGTH;
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;

#[derive(Debug, PartialEq, Eq)]
pub enum ReadError {
    TooLarge,
    Unreadable(String),
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
        return Err(ReadError::TooLarge);
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ReadError::Unreadable(e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
