//! Where a welcome SMS goes: recorded locally (`capture`), POSTed to a URL
//! (`webhook`), or sent through Twilio's Messages API (`twilio`).

mod capture;
mod twilio;
mod webhook;

use std::time::Duration;

pub use capture::{MAGIC_INVALID_NUMBER, MAGIC_NOT_SMS_CAPABLE, MAGIC_TRANSIENT_TWICE};
pub use twilio::TwilioTransport;
pub use webhook::{WebhookTransport, signature};

use super::queue::ClaimedSms;
use super::retry::parse_retry_after;

/// What one attempt to hand an SMS to a transport gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Acknowledged: never to be sent again.
    Delivered {
        provider_message_id: Option<String>,
        http_status: Option<u16>,
    },
    /// Worth another try (network error, timeout, 408, 429, 5xx).
    Transient {
        error: String,
        retry_after: Option<Duration>,
        http_status: Option<u16>,
    },
    /// Will never succeed as it is (any other 4xx, an invalid number).
    Permanent { error: String, http_status: Option<u16> },
}

impl Delivery {
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Delivered { http_status, .. }
            | Self::Transient { http_status, .. }
            | Self::Permanent { http_status, .. } => *http_status,
        }
    }
}

pub enum Transport {
    Capture,
    Webhook(WebhookTransport),
    Twilio(TwilioTransport),
}

impl Transport {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Capture => "capture",
            Self::Webhook(_) => "webhook",
            Self::Twilio(_) => "twilio",
        }
    }

    pub async fn deliver(&self, sms: &ClaimedSms) -> Delivery {
        match self {
            Self::Capture => capture::deliver(sms),
            Self::Webhook(webhook) => webhook.deliver(sms).await,
            Self::Twilio(twilio) => twilio.deliver(sms).await,
        }
    }
}

/// The HTTP client both HTTP transports share: bounded time, no redirects
/// (a webhook that redirects is misconfigured, and following one would send
/// the SMS to a place nobody configured).
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
fn from_response_status(status: reqwest::StatusCode, headers: &reqwest::header::HeaderMap, detail: &str) -> Delivery {
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
fn from_request_error(error: &reqwest::Error) -> Delivery {
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
fn snippet(body: &str) -> String {
    body.chars().take(300).collect::<String>().trim().to_owned()
}
