//! The call journal.

use sqlx::PgConnection;
use uuid::Uuid;

/// How a request ended, as journaled and (later) reported by the admin API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Dial,
    NoForwarding,
    NotLinked,
    InvalidKey,
    InvalidRequest,
    RateLimited,
    InvalidSignature,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dial => "dial",
            Self::NoForwarding => "no_forwarding",
            Self::NotLinked => "not_linked",
            Self::InvalidKey => "invalid_key",
            Self::InvalidRequest => "invalid_request",
            Self::RateLimited => "rate_limited",
            Self::InvalidSignature => "invalid_signature",
        }
    }
}

/// Why a found store's call queued no welcome SMS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmsSkipped {
    OptedOut,
    Cooldown,
}

impl SmsSkipped {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OptedOut => "opted_out",
            Self::Cooldown => "cooldown",
        }
    }
}

/// One journal row. Text fields hold what was received (bounded), since a
/// rejected request's numbers need not be valid.
#[derive(Clone, Debug)]
pub struct NewCall {
    pub method: &'static str,
    pub from: Option<String>,
    pub to: Option<String>,
    pub context: Option<String>,
    pub organization_id: Option<i64>,
    pub store_id: Option<i64>,
    pub outcome: Outcome,
    pub http_status: u16,
    pub sms_id: Option<Uuid>,
    pub sms_skipped: Option<SmsSkipped>,
}

pub async fn record(conn: &mut PgConnection, call: &NewCall) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "INSERT INTO calls (method, from_number, to_number, context, organization_id, store_id,
                            outcome, http_status, sms_id, sms_skipped)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         RETURNING id",
        call.method,
        call.from,
        call.to,
        call.context,
        call.organization_id,
        call.store_id,
        call.outcome.as_str(),
        call.http_status as i16,
        call.sms_id,
        call.sms_skipped.map(SmsSkipped::as_str),
    )
    .fetch_one(conn)
    .await
}
