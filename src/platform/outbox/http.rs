//! What every HTTP transport shares: the client, and how an exchange that
//! was not a success is classified (transient or permanent, with its error).

use std::time::Duration;

use super::Delivery;
use super::retry::parse_retry_after;

/// The HTTP client every HTTP transport shares: bounded time, no redirects
/// (a webhook that redirects is misconfigured, and following one would send
/// it to a place nobody configured).
pub fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("ivr-gateway/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a client with these settings always builds")
}

/// Classifies a finished HTTP exchange that was not a success.
pub fn from_response_status(
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
    detail: &str,
) -> Delivery {
    let http_status = Some(status.as_u16());
    let error = format!(
        "HTTP {status}{}",
        if detail.is_empty() {
            String::new()
        } else {
            format!(": {detail}")
        }
    );
    let transient = status.is_server_error()
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
    if transient {
        let retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        Delivery::Transient {
            error,
            retry_after,
            http_status,
        }
    } else {
        Delivery::Permanent { error, http_status }
    }
}

/// A request that got no answer (refused, reset, timed out) may succeed later.
pub fn from_request_error(error: &reqwest::Error) -> Delivery {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut message = format!("{kind}: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    Delivery::Transient {
        error: message,
        retry_after: None,
        http_status: None,
    }
}

/// At most this much of a response body goes into the recorded error.
pub fn snippet(body: &str) -> String {
    body.chars().take(300).collect::<String>().trim().to_owned()
}
