//! What webhooks and the legacy hook receive, built from the facts of a
//! message or a transfer. Field names follow Instaply's pages (the webhook
//! envelope `{eventType, timestamp, data}` and the legacy flat payload);
//! the fields those pages cut off are listed in docs/instaply-messaging.md.

use serde::Serialize;

/// A message as its events describe it.
#[derive(Clone, Debug)]
pub struct MessageFacts {
    pub message_id: i64,
    pub thread_id: i64,
    pub organization_id: i64,
    pub business_id: i64,
    pub customer_id: String,
    pub customer_type: String,
    pub channel: String,
    pub from_customer: bool,
    pub internal: bool,
    pub employee_user_id: Option<i64>,
    pub body: String,
    pub created_at_ms: i64,
}

/// A thread moved from one business to another.
#[derive(Clone, Debug)]
pub struct TransferFacts {
    pub thread_id: i64,
    pub organization_id: i64,
    pub previous_business_id: i64,
    pub business_id: i64,
    pub customer_id: String,
    pub at_ms: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<D> {
    event_type: &'static str,
    timestamp: i64,
    data: D,
}

/// The fields message events and the legacy payload share.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MessageData<'a, T: Serialize> {
    from_customer: bool,
    invisible: bool,
    /// A number in message events, as Instaply's page shows it.
    customer_thread_id: T,
    business_id: i64,
    organization_id: i64,
    customer_id: &'a str,
    customer_type: &'a str,
    message_id: i64,
    message_body: &'a str,
    message_timestamp: i64,
    #[serde(rename = "messageAttachmentUUID")]
    message_attachment_uuid: Option<&'a str>,
    message_attachment_name: Option<&'a str>,
    message_attachment_content_type: Option<&'a str>,
    message_attachment_content_length: Option<i64>,
    message_external_id: Option<&'a str>,
    employee_user_id: Option<i64>,
    channel: &'a str,
}

impl MessageFacts {
    fn data(&self) -> MessageData<'_, i64> {
        MessageData {
            from_customer: self.from_customer,
            invisible: self.internal,
            customer_thread_id: self.thread_id,
            business_id: self.business_id,
            organization_id: self.organization_id,
            customer_id: &self.customer_id,
            customer_type: &self.customer_type,
            message_id: self.message_id,
            message_body: &self.body,
            message_timestamp: self.created_at_ms,
            message_attachment_uuid: None,
            message_attachment_name: None,
            message_attachment_content_type: None,
            message_attachment_content_length: None,
            message_external_id: None,
            employee_user_id: self.employee_user_id,
            channel: &self.channel,
        }
    }

    /// The `messages` event a webhook receives.
    pub fn webhook_payload(&self, now_ms: i64) -> String {
        serde_json::to_string(&Envelope {
            event_type: "message",
            timestamp: now_ms,
            data: self.data(),
        })
        .expect("an envelope of plain values always serialises")
    }

    /// The legacy hook's flat payload: the message fields alone, no envelope.
    pub fn legacy_payload(&self) -> String {
        serde_json::to_string(&self.data()).expect("plain values always serialise")
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TransferData<'a> {
    /// A string in transfer events, as Instaply's page shows it.
    customer_thread_id: String,
    previous_business_id: i64,
    business_id: i64,
    organization_id: i64,
    customer_id: &'a str,
    transfer_timestamp: i64,
}

impl TransferFacts {
    /// The `transfers` event a webhook receives.
    pub fn webhook_payload(&self, now_ms: i64) -> String {
        serde_json::to_string(&Envelope {
            event_type: "transfer",
            timestamp: now_ms,
            data: TransferData {
                customer_thread_id: self.thread_id.to_string(),
                previous_business_id: self.previous_business_id,
                business_id: self.business_id,
                organization_id: self.organization_id,
                customer_id: &self.customer_id,
                transfer_timestamp: self.at_ms,
            },
        })
        .expect("an envelope of plain values always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> MessageFacts {
        MessageFacts {
            message_id: 555001,
            thread_id: 123456,
            organization_id: 200,
            business_id: 1001,
            customer_id: "cust_001".into(),
            customer_type: "prospect".into(),
            channel: "SMS".into(),
            from_customer: true,
            internal: false,
            employee_user_id: None,
            body: "Hello \"there\" <&>".into(),
            created_at_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn a_message_event_has_the_envelope_and_a_numeric_thread_id() {
        let payload: serde_json::Value = serde_json::from_str(&message().webhook_payload(1_700_000_000_001)).unwrap();
        assert_eq!(payload["eventType"], "message");
        assert_eq!(payload["timestamp"], 1_700_000_000_001i64);
        assert_eq!(payload["data"]["customerThreadId"], 123456);
        assert_eq!(payload["data"]["customerId"], "cust_001");
        assert_eq!(payload["data"]["messageBody"], "Hello \"there\" <&>");
        assert_eq!(payload["data"]["fromCustomer"], true);
        assert!(payload["data"]["messageAttachmentUUID"].is_null());
    }

    #[test]
    fn a_transfer_event_carries_the_thread_id_as_a_string() {
        let transfer = TransferFacts {
            thread_id: 77,
            organization_id: 1,
            previous_business_id: 2,
            business_id: 3,
            customer_id: "cust_9".into(),
            at_ms: 5,
        };
        let payload: serde_json::Value = serde_json::from_str(&transfer.webhook_payload(6)).unwrap();
        assert_eq!(payload["eventType"], "transfer");
        assert_eq!(payload["data"]["customerThreadId"], "77");
        assert_eq!(payload["data"]["previousBusinessId"], 2);
    }

    #[test]
    fn the_legacy_payload_is_flat() {
        let payload: serde_json::Value = serde_json::from_str(&message().legacy_payload()).unwrap();
        assert!(payload.get("eventType").is_none());
        assert_eq!(payload["messageId"], 555001);
        assert_eq!(payload["invisible"], false);
    }
}
