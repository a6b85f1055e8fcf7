//! `twilio`: Twilio's Messages API, `POST {base}/2010-04-01/Accounts/{sid}/Messages.json`
//! with `To`, `From`, `Body` form-encoded and Basic auth. The base URL is
//! configurable so staging can point it at a sandbox or a local double.

use serde::Deserialize;

use crate::platform::outbox::Delivery;
use crate::platform::outbox::http::{from_request_error, from_response_status, snippet};
use crate::surfaces::instaply_ivr::sms::queue::ClaimedSms;

pub struct TwilioTransport {
    client: reqwest::Client,
    messages_url: String,
    account_sid: String,
    auth_token: String,
}

/// The parts of Twilio's answers we read: `sid` on success, `code` and
/// `message` on error.
#[derive(Deserialize)]
struct TwilioAnswer {
    sid: Option<String>,
    code: Option<u32>,
    message: Option<String>,
}

impl TwilioTransport {
    pub fn new(client: reqwest::Client, base_url: &str, account_sid: String, auth_token: String) -> Self {
        let messages_url = format!(
            "{}/2010-04-01/Accounts/{account_sid}/Messages.json",
            base_url.trim_end_matches('/')
        );
        Self {
            client,
            messages_url,
            account_sid,
            auth_token,
        }
    }

    pub async fn deliver(&self, sms: &ClaimedSms) -> Delivery {
        let form = [
            ("To", sms.to.as_str()),
            ("From", sms.from.as_str()),
            ("Body", sms.body.as_str()),
        ];
        let request = self
            .client
            .post(&self.messages_url)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .form(&form);
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return from_request_error(&error),
        };
        let (status, headers) = (response.status(), response.headers().clone());
        let text = response.text().await.unwrap_or_default();
        let answer: Option<TwilioAnswer> = serde_json::from_str(&text).ok();
        if status.is_success() {
            return Delivery::Delivered {
                provider_message_id: answer.and_then(|a| a.sid),
                http_status: Some(status.as_u16()),
            };
        }
        let detail = match answer {
            Some(TwilioAnswer {
                code: Some(code),
                message: Some(message),
                ..
            }) => format!("Twilio error {code}: {message}"),
            _ => snippet(&text),
        };
        from_response_status(status, &headers, &detail)
    }
}
