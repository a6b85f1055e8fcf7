//! `capture`: the SMS is recorded as delivered and stays in the outbox for
//! inspection. Magic recipients provoke failures, as Twilio's test numbers do.

use crate::platform::outbox::Delivery;
use crate::surfaces::instaply_ivr::sms::queue::ClaimedSms;

/// Fails permanently: not a valid phone number (Twilio's `+15005550001`).
pub const MAGIC_INVALID_NUMBER: &str = "+15005550001";
/// Fails permanently: cannot receive SMS (Twilio's `+15005550009`).
pub const MAGIC_NOT_SMS_CAPABLE: &str = "+15005550009";
/// Fails transiently on the first two attempts, then is delivered.
pub const MAGIC_TRANSIENT_TWICE: &str = "+15005550503";

pub fn deliver(sms: &ClaimedSms) -> Delivery {
    match sms.to.as_str() {
        MAGIC_INVALID_NUMBER => Delivery::Permanent {
            error: format!("invalid number: {} is not a valid phone number", sms.to),
            http_status: None,
        },
        MAGIC_NOT_SMS_CAPABLE => Delivery::Permanent {
            error: format!("not SMS-capable: {} cannot receive SMS", sms.to),
            http_status: None,
        },
        MAGIC_TRANSIENT_TWICE if sms.attempt <= 2 => Delivery::Transient {
            error: format!("simulated transient failure {} of 2", sms.attempt),
            retry_after: None,
            http_status: None,
        },
        _ => Delivery::Delivered {
            provider_message_id: None,
            http_status: None,
        },
    }
}
