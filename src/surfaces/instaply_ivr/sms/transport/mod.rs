//! Where a welcome SMS goes: recorded locally (`capture`), POSTed to a URL
//! (`webhook`), or sent through Twilio's Messages API (`twilio`).

mod capture;
mod twilio;
mod webhook;

pub use capture::{MAGIC_INVALID_NUMBER, MAGIC_NOT_SMS_CAPABLE, MAGIC_TRANSIENT_TWICE};
pub use twilio::TwilioTransport;
pub use webhook::{WebhookTransport, signature};

use super::queue::ClaimedSms;
pub use crate::platform::outbox::http::http_client;
use crate::platform::outbox::{Deliver, Delivery};

pub enum Transport {
    Capture,
    Webhook(WebhookTransport),
    Twilio(TwilioTransport),
}

impl Deliver<ClaimedSms> for Transport {
    fn name(&self) -> &'static str {
        match self {
            Self::Capture => "capture",
            Self::Webhook(_) => "webhook",
            Self::Twilio(_) => "twilio",
        }
    }

    async fn deliver(&self, sms: &ClaimedSms) -> Delivery {
        match self {
            Self::Capture => capture::deliver(sms),
            Self::Webhook(webhook) => webhook.deliver(sms).await,
            Self::Twilio(twilio) => twilio.deliver(sms).await,
        }
    }
}
