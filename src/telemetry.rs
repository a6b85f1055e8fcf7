//! Logging: a `tracing` subscriber and an access log that never shows a key.

use std::time::Instant;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber (`RUST_LOG` filters; default `info`).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    // A second call (tests start many apps in one process) is harmless.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// One line per request: method, path with the `key` value masked, status, time.
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let target = match req.query_string() {
        "" => req.path().to_owned(),
        query => format!("{}?{}", req.path(), redact_query(query)),
    };
    let response = next.call(req).await?;
    tracing::info!(
        target: "access",
        %method,
        %target,
        status = response.status().as_u16(),
        millis = started.elapsed().as_secs_f64() * 1000.0,
    );
    Ok(response)
}

/// Replaces the value of every `key` parameter with `***`, leaving the rest
/// of the query string exactly as received.
pub fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            let decoded: String = form_urlencoded::parse(name.as_bytes())
                .map(|(n, _)| n.into_owned())
                .collect();
            if decoded.eq_ignore_ascii_case("key") {
                format!("{name}=***")
            } else {
                pair.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::redact_query;

    #[test]
    fn every_spelling_of_the_key_parameter_is_masked() {
        assert_eq!(
            redact_query("key=secret&from=%2B1&%6Bey=secret2&KEY=s3&to=+2&keyring=ok"),
            "key=***&from=%2B1&%6Bey=***&KEY=***&to=+2&keyring=ok"
        );
        assert_eq!(redact_query("key"), "key=***");
    }
}
