//! The IVR hook itself, independent of HTTP: validate, identify the tenant,
//! find the store, queue the welcome SMS and journal the call. The HTTP route
//! and, later, emulated IVR platforms all answer calls through [`answer_call`].

use std::time::Duration;

use sqlx::{Acquire, PgConnection, PgPool};

use crate::db::calls::{self, NewCall, Outcome, SmsSkipped};
use crate::db::directory::{self, StoreRoute};
use crate::domain::{FieldErrors, IvrRequest, PhoneNumber, PhoneValidation, RawIvrRequest};
use crate::rate_limit::RateLimiter;
use crate::sms::{outbox, welcome};
use crate::twilio_signature::SignedRequest;
use crate::twiml::VoiceResponse;

/// The rules a deployment chooses (CONTRACT section 8).
#[derive(Clone, Copy, Debug)]
pub struct HookRules {
    pub phone_validation: PhoneValidation,
    /// 0 turns the cool-down off: every call to a store queues a welcome SMS.
    pub welcome_cooldown: Duration,
}

/// What the caller gets, before it is dressed as HTTP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HookAnswer {
    Voice(Outcome, VoiceResponse),
    InvalidKey,
    Invalid(FieldErrors),
    /// The key spent its rate limit; try again after this long.
    RateLimited(Duration),
    /// The organization requires Twilio's signature, and this one is wrong or missing.
    InvalidSignature,
}

/// Answers one call. Every answer is journaled before it is returned: an
/// `Err` (the database failed) means nothing was recorded and nothing queued.
pub async fn answer_call(
    pool: &PgPool,
    rules: &HookRules,
    limiter: &RateLimiter,
    signed: &SignedRequest,
    method: &'static str,
    raw: &RawIvrRequest,
) -> sqlx::Result<HookAnswer> {
    let journal = Journal { method, raw };
    let request = match IvrRequest::parse(raw, rules.phone_validation) {
        Ok(request) => request,
        Err(errors) => {
            let mut conn = pool.acquire().await?;
            journal.record(&mut conn, Outcome::InvalidRequest, None, None).await?;
            return Ok(counted(Outcome::InvalidRequest, HookAnswer::Invalid(errors)));
        }
    };

    let mut conn = pool.acquire().await?;
    let key_hash = request.key.hash();
    let Some(owner) = directory::organization_for_key(&mut conn, &key_hash).await? else {
        journal.record(&mut conn, Outcome::InvalidKey, None, None).await?;
        return Ok(counted(Outcome::InvalidKey, HookAnswer::InvalidKey));
    };
    let organization_id = owner.organization_id;
    if let Some(token) = owner.twilio_auth_token.as_deref()
        && !signed.verify(token)
    {
        journal
            .record(&mut conn, Outcome::InvalidSignature, Some(organization_id), None)
            .await?;
        return Ok(counted(Outcome::InvalidSignature, HookAnswer::InvalidSignature));
    }
    if let Err(wait) = limiter.check(&key_hash) {
        journal
            .record(&mut conn, Outcome::RateLimited, Some(organization_id), None)
            .await?;
        return Ok(counted(Outcome::RateLimited, HookAnswer::RateLimited(wait)));
    }
    let Some(store) = directory::store_for_number(&mut conn, organization_id, &request.to).await? else {
        journal
            .record(&mut conn, Outcome::NotLinked, Some(organization_id), None)
            .await?;
        return Ok(counted(
            Outcome::NotLinked,
            HookAnswer::Voice(Outcome::NotLinked, VoiceResponse::not_linked()),
        ));
    };

    let (outcome, response) = match store.forwarding_number.as_deref() {
        Some(number) => {
            let number =
                PhoneNumber::parse(number, PhoneValidation::Format).map_err(|e| sqlx::Error::Decode(e.into()))?;
            (Outcome::Dial, VoiceResponse::Dial(number))
        }
        None => (Outcome::NoForwarding, VoiceResponse::no_forwarding()),
    };
    // The SMS and the journal row commit together or not at all.
    let mut tx = conn.begin().await?;
    let sms = queue_welcome(&mut tx, rules, organization_id, &store, &request).await?;
    journal
        .record(&mut tx, outcome, Some(organization_id), Some((store.store_id, sms)))
        .await?;
    tx.commit().await?;
    if sms.is_ok() {
        metrics::counter!("ivr_sms_queued_total").increment(1);
    }
    Ok(counted(outcome, HookAnswer::Voice(outcome, response)))
}

/// Counts an answer whose journal row is committed.
fn counted(outcome: Outcome, answer: HookAnswer) -> HookAnswer {
    metrics::counter!("ivr_calls_total", "outcome" => outcome.as_str()).increment(1);
    answer
}

/// Queues the welcome SMS unless the caller opted out or is cooling down.
async fn queue_welcome(
    tx: &mut PgConnection,
    rules: &HookRules,
    organization_id: i64,
    store: &StoreRoute,
    request: &IvrRequest,
) -> sqlx::Result<Result<uuid::Uuid, SmsSkipped>> {
    if directory::is_opted_out(tx, organization_id, &request.from).await? {
        return Ok(Err(SmsSkipped::OptedOut));
    }
    if !outbox::claim_welcome_slot(tx, store.store_id, &request.from, rules.welcome_cooldown).await? {
        return Ok(Err(SmsSkipped::Cooldown));
    }
    let body = welcome::render(
        store.store_welcome.as_deref(),
        store.organization_welcome.as_deref(),
        &store.store_name,
    );
    let sms = outbox::NewSms {
        organization_id,
        store_id: store.store_id,
        from: &request.to,
        to: &request.from,
        body: &body,
        context: request.context.as_ref(),
    };
    Ok(Ok(outbox::enqueue(tx, &sms).await?))
}

/// Writes the journal row for the request being answered.
struct Journal<'a> {
    method: &'static str,
    raw: &'a RawIvrRequest,
}

impl Journal<'_> {
    async fn record(
        &self,
        conn: &mut PgConnection,
        outcome: Outcome,
        organization_id: Option<i64>,
        store: Option<(i64, Result<uuid::Uuid, SmsSkipped>)>,
    ) -> sqlx::Result<()> {
        let http_status = match outcome {
            Outcome::InvalidRequest => 400,
            Outcome::InvalidKey => 403,
            Outcome::RateLimited => 429,
            Outcome::InvalidSignature => 403,
            _ => 200,
        };
        let call = NewCall {
            method: self.method,
            from: self.raw.from.journal_text(),
            to: self.raw.to.journal_text(),
            context: self.raw.context.journal_text(),
            organization_id,
            store_id: store.map(|(id, _)| id),
            outcome,
            http_status,
            sms_id: store.and_then(|(_, sms)| sms.ok()),
            sms_skipped: store.and_then(|(_, sms)| sms.err()),
        };
        calls::record(conn, &call).await.map(drop)
    }
}
