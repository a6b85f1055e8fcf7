//! `webhook`: each SMS is POSTed as JSON to a configured URL, signed the
//! Standard Webhooks way (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`), so
//! any of that spec's libraries verifies it; the timestamp bounds replay.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::platform::outbox::Delivery;
use crate::platform::outbox::http::{from_request_error, from_response_status, snippet};
use crate::surfaces::instaply_ivr::sms::queue::ClaimedSms;

pub struct WebhookTransport {
    client: reqwest::Client,
    url: String,
    key: Vec<u8>,
}

#[derive(Serialize)]
struct Payload<'a> {
    id: uuid::Uuid,
    from: &'a str,
    to: &'a str,
    body: &'a str,
    context: Option<&'a str>,
    store: Option<&'a str>,
    created_at: &'a str,
}

impl WebhookTransport {
    /// `secret` is used as given, except a `whsec_…` secret (the Standard
    /// Webhooks format), whose base64 part is the key.
    pub fn new(client: reqwest::Client, url: String, secret: &str) -> anyhow::Result<Self> {
        let key = match secret.strip_prefix("whsec_") {
            Some(encoded) => BASE64
                .decode(encoded)
                .map_err(|_| anyhow::anyhow!("a whsec_ secret must be base64 after the prefix"))?,
            None => secret.as_bytes().to_vec(),
        };
        anyhow::ensure!(!key.is_empty(), "the webhook secret must not be empty");
        Ok(Self { client, url, key })
    }

    pub async fn deliver(&self, sms: &ClaimedSms) -> Delivery {
        let payload = Payload {
            id: sms.id,
            from: &sms.from,
            to: &sms.to,
            body: &sms.body,
            context: sms.context.as_deref(),
            store: sms.store.as_deref(),
            created_at: &sms.created_at,
        };
        let body = serde_json::to_vec(&payload).expect("a payload of strings always serialises");
        let id = sms.id.to_string();
        let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let request = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", &id)
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature(&self.key, &id, timestamp, &body))
            .body(body);
        match request.send().await {
            Ok(response) if response.status().is_success() => Delivery::Delivered {
                provider_message_id: None,
                http_status: Some(response.status().as_u16()),
            },
            Ok(response) => {
                let (status, headers) = (response.status(), response.headers().clone());
                let detail = response.text().await.map(|text| snippet(&text)).unwrap_or_default();
                from_response_status(status, &headers, &detail)
            }
            Err(error) => from_request_error(&error),
        }
    }
}

/// `v1,<base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))>`.
pub fn signature(key: &[u8], id: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_vector_computed_with_pythons_hmac_module() {
        // python3 -c 'import hmac,hashlib,base64; print(base64.b64encode(hmac.new(b"s3cret",
        //   b"msg_1.1700000000.{\"a\":1}", hashlib.sha256).digest()).decode())'
        assert_eq!(
            signature(b"s3cret", "msg_1", 1_700_000_000, br#"{"a":1}"#),
            "v1,JTnXZsicQmbYBUKbG0PXd2OqV6VmCFiMTEvW8yxopSo="
        );
    }

    #[test]
    fn whsec_secrets_are_base64_keys() {
        let client = reqwest::Client::new();
        let transport = WebhookTransport::new(client.clone(), "http://x".into(), "whsec_czNjcmV0").unwrap();
        assert_eq!(transport.key, b"s3cret");
        assert!(WebhookTransport::new(client.clone(), "http://x".into(), "whsec_!!").is_err());
        assert!(WebhookTransport::new(client, "http://x".into(), "").is_err());
    }
}
