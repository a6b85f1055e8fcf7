//! How an event delivery is sent: its payload POSTed as JSON to its URL
//! with the webhook's extra headers and a stable `X-Delivery-Id`.

use crate::platform::outbox::http::{from_request_error, from_response_status, snippet};
use crate::platform::outbox::{Deliver, Delivery};
use crate::surfaces::instaply_messaging::storage::deliveries::ClaimedDelivery;

pub struct HttpPost {
    client: reqwest::Client,
}

impl HttpPost {
    pub fn new(client: reqwest::Client) -> Self {
        Self { client }
    }
}

impl Deliver<ClaimedDelivery> for HttpPost {
    fn name(&self) -> &'static str {
        "http"
    }

    async fn deliver(&self, delivery: &ClaimedDelivery) -> Delivery {
        let mut request = self
            .client
            .post(&delivery.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("x-delivery-id", delivery.id.to_string());
        for header in &delivery.headers {
            request = request.header(&header.name, &header.value);
        }
        match request.body(delivery.payload.clone()).send().await {
            Ok(response) if response.status().is_success() => Delivery::Delivered {
                provider_message_id: None,
                http_status: Some(response.status().as_u16()),
            },
            Ok(response) => {
                let (status, headers) = (response.status(), response.headers().clone());
                let body = response.text().await.unwrap_or_default();
                from_response_status(status, &headers, &snippet(&body))
            }
            Err(error) => from_request_error(&error),
        }
    }
}
