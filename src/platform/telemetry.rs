//! Logging: a `tracing` subscriber (human or JSON), one span per request with
//! a request id, and an access log that never shows a key.

use std::time::Instant;

use actix_http::error::{DispatchError, ParseError};
use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

/// `IVR_LOG_FORMAT`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Text,
    /// One JSON object per event, with the request's span fields.
    Json,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// An incoming id longer than this, or with other characters, is replaced:
/// it goes into every log line of the request.
const MAX_REQUEST_ID_LEN: usize = 128;

/// Installs the global subscriber on stderr (`RUST_LOG` filters; default `info`).
pub fn init(format: LogFormat) {
    // actix-server's own start and stop lines repeat what `serve` says.
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,actix_server=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second call (tests start many apps in one process) is harmless.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).try_init(),
    };
}

/// Wraps each request in a `request` span (request id, method, path with the
/// `key` value masked), answers with `X-Request-Id`, and logs one access line.
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_loggable_id(id))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let target = match req.query_string() {
        "" => req.path().to_owned(),
        query => format!("{}?{}", req.path(), redact_query(query)),
    };
    let span = tracing::info_span!("request", request_id = %request_id, method = %req.method(), target = %target);
    let mut response = next.call(req).instrument(span.clone()).await?;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    span.in_scope(|| tracing::info!(target: "access", status, millis = elapsed.as_secs_f64() * 1000.0));
    // The route pattern, not the path: ids in paths would explode the series.
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = response.request().method().to_string();
    metrics::counter!("ivr_http_requests_total", "route" => route.clone(), "method" => method, "status" => status.to_string())
        .increment(1);
    metrics::histogram!("ivr_http_request_duration_seconds", "route" => route).record(elapsed.as_secs_f64());
    Ok(response)
}

/// Logs a connection whose request the HTTP parser refused before any
/// handler saw it (a malformed request line or header, a head too large, a
/// head too slow to arrive), as the access line actix's own reply gets.
/// Nothing of the request is logged: it could not be read, and it may hold
/// a secret. Connections that merely closed are not requests.
pub fn log_rejected_connection(error: DispatchError) {
    let (status, reason) = match &error {
        DispatchError::Parse(ParseError::TooLarge) => (431, "request head too large"),
        DispatchError::Parse(ParseError::Io(_)) => return,
        DispatchError::Parse(_) => (400, "malformed request"),
        DispatchError::SlowRequestTimeout => (408, "request head not received in time"),
        _ => return tracing::debug!(%error, "connection ended with an error"),
    };
    log_unparsed(status, reason);
}

/// An access line for a request answered before it was parsed.
pub fn log_unparsed(status: u16, reason: &str) {
    let request_id = uuid::Uuid::new_v4().to_string();
    let span = tracing::info_span!("request", request_id = %request_id, method = "-", target = "-");
    span.in_scope(|| tracing::info!(target: "access", status, rejected = reason));
    metrics::counter!("ivr_http_requests_total", "route" => "unparsed", "method" => "-", "status" => status.to_string())
        .increment(1);
}

/// An error and every cause under it, `outer: inner: root`, for one log
/// field. A cause its parent already quotes at its end (as sqlx's errors
/// do) is not repeated.
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parent = self.0.to_string();
        f.write_str(&parent)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !parent.ends_with(&text) {
                write!(f, ": {text}")?;
            }
            parent = text;
            source = cause.source();
        }
        Ok(())
    }
}

fn is_loggable_id(id: &str) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Query parameters whose values are logged as received: the numbers and
/// tags of a call, Twilio's call identifiers, and the admin API's filters.
/// Every other value (`key`, a misspelt `kye`, a `token`…) is shown as `***`.
const LOGGED_PARAMETERS: &[&str] = &[
    "from",
    "to",
    "context",
    "callsid",
    "accountsid",
    "callstatus",
    "direction",
    "apiversion",
    "caller",
    "called",
    "outcome",
    "status",
    "since",
    "limit",
    "after",
    "wait",
    // Twilio's parameters of a call in progress, and Smartflo's call state.
    "digits",
    "dialcallstatus",
    "answeredby",
    "t",
    "i",
    "timedout",
    // The messaging side's ids and filters.
    "customerthreadid",
    "customer",
    "business",
    "thread",
    "message",
    "event",
];

/// Keeps the values of [`LOGGED_PARAMETERS`] exactly as received and masks
/// every other value as `***`. A name that is not a plain identifier is
/// masked too: `key%3Dsecret` (an encoded `=`) is all name and no value.
pub fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded: String = form_urlencoded::parse(name.as_bytes())
                .map(|(n, _)| n.into_owned())
                .collect();
            let plain =
                (1..=32).contains(&decoded.len()) && decoded.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !plain {
                "***".to_owned()
            } else if LOGGED_PARAMETERS.iter().any(|kept| decoded.eq_ignore_ascii_case(kept)) {
                pair.to_owned()
            } else if value.is_empty() && !pair.contains('=') {
                name.to_owned()
            } else {
                format!("{name}=***")
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_the_key_parameter_is_masked() {
        assert_eq!(
            redact_query("key=secret&from=%2B1&%6Bey=secret2&KEY=s3&to=+2&kye=s4"),
            "key=***&from=%2B1&%6Bey=***&KEY=***&to=+2&kye=***"
        );
    }

    #[test]
    fn only_allowed_parameters_keep_their_values() {
        assert_eq!(
            redact_query("From=%2B1&To=%2B2&CallSid=CA1&context=OPT_IN&token=t0k&api_key=k&limit=5&outcome=dial"),
            "From=%2B1&To=%2B2&CallSid=CA1&context=OPT_IN&token=***&api_key=***&limit=5&outcome=dial"
        );
    }

    #[test]
    fn a_name_that_carries_a_value_is_masked_whole() {
        // `%3D` is an encoded `=`: the whole pair is a name holding the key.
        assert_eq!(redact_query("key%3Da73d5034&from=%2B1"), "***&from=%2B1");
        assert_eq!(redact_query("x y=1&%00=2&=3"), "***&***&***");
        // A bare flag with a plain name has no value to hide.
        assert_eq!(redact_query("debug&to=%2B1"), "debug&to=%2B1");
    }

    #[test]
    fn a_chain_shows_every_cause() {
        let root = std::io::Error::other("connection reset");
        let failed =
            crate::platform::group_commit::WriteFailed::Database("journal", std::sync::Arc::new(sqlx::Error::Io(root)));
        assert_eq!(
            Chain(&failed).to_string(),
            "the journal writer's batch failed: error communicating with database: connection reset"
        );
    }

    #[test]
    fn only_plain_request_ids_are_kept() {
        assert!(is_loggable_id("3f2a-req_1.a:b"));
        for bad in ["", "a b", "x\ny", "<script>", &"a".repeat(129)] {
            assert!(!is_loggable_id(bad), "{bad:?}");
        }
    }
}
