//! The IVR hook itself, independent of HTTP: validate, identify the tenant,
//! find the store, queue the welcome SMS and journal the call. The HTTP route
//! and, later, emulated IVR platforms all answer calls through [`Hook::answer`].

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;

use crate::platform::directory::DirectoryCache;
use crate::platform::domain::{FieldErrors, PhoneNumber, PhoneValidation};
use crate::platform::group_commit::WriteFailed;
use crate::platform::notifications::Notifications;
use crate::platform::rate_limit::{RateLimit, RateLimiter};
use crate::platform::secret::Secret;
use crate::platform::twilio_signature::SignedRequest;
use crate::surfaces::instaply_ivr::domain::{IvrRequest, RawIvrRequest};
use crate::surfaces::instaply_ivr::journal::{CallWriter, JOURNAL_SLOTS, JournalCalls};
use crate::surfaces::instaply_ivr::journal::{NewCall, NewWelcome, Outcome, WelcomeOutcome};
use crate::surfaces::instaply_ivr::sms::welcome;
use crate::surfaces::instaply_ivr::twiml::VoiceResponse;

/// The rules a deployment chooses (docs/ivr-hook.md §8).
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

/// The hook could not answer: nothing was recorded and nothing queued.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    #[error("cannot read the directory")]
    Directory(#[from] sqlx::Error),
    #[error("cannot journal the call")]
    Journal(#[from] WriteFailed),
    #[error("the stored forwarding number is not E.164")]
    ForwardingNumber(#[source] crate::platform::domain::PhoneNumberError),
}

/// The hook and what it reads and writes through; one per process.
pub struct Hook {
    rules: HookRules,
    limiter: RateLimiter,
    /// Keys and store routes in memory (shared with the admin API, which drops them on writes).
    pub directory: Arc<DirectoryCache>,
    writer: CallWriter,
}

impl Hook {
    /// Starts following directory changes and the journal writer; must be
    /// called inside the Tokio runtime.
    pub fn start(pool: PgPool, rules: HookRules, limiter: RateLimiter, notifications: &Notifications) -> Self {
        Self {
            rules,
            limiter,
            directory: DirectoryCache::start(pool.clone(), notifications),
            writer: CallWriter::start(
                &pool,
                JOURNAL_SLOTS,
                JournalCalls {
                    cooldown: rules.welcome_cooldown,
                },
            ),
        }
    }

    /// The per-key rate limit in force.
    pub fn rate_limit(&self) -> RateLimit {
        self.limiter.limit()
    }

    /// Answers one call. Every answer is journaled before it is returned: an
    /// `Err` means nothing was recorded and nothing queued.
    pub async fn answer(
        &self,
        signed: &SignedRequest,
        method: &'static str,
        raw: &RawIvrRequest,
    ) -> Result<HookAnswer, Unavailable> {
        let journal = Journal {
            writer: &self.writer,
            method,
            raw,
        };
        let request = match IvrRequest::parse(raw, self.rules.phone_validation) {
            Ok(request) => request,
            Err(errors) => {
                journal.record(Outcome::InvalidRequest, None, None).await?;
                return Ok(counted(Outcome::InvalidRequest, HookAnswer::Invalid(errors)));
            }
        };

        let key_hash = request.key.hash();
        let Some(owner) = self.directory.key_owner(&key_hash).await? else {
            journal.record(Outcome::InvalidKey, None, None).await?;
            return Ok(counted(Outcome::InvalidKey, HookAnswer::InvalidKey));
        };
        let organization_id = owner.organization_id;
        if let Some(token) = owner.twilio_auth_token.as_ref().map(Secret::expose)
            && !signed.verify(token)
        {
            journal
                .record(Outcome::InvalidSignature, Some(organization_id), None)
                .await?;
            return Ok(counted(Outcome::InvalidSignature, HookAnswer::InvalidSignature));
        }
        if let Err(wait) = self.limiter.check(&key_hash) {
            journal
                .record(Outcome::RateLimited, Some(organization_id), None)
                .await?;
            return Ok(counted(Outcome::RateLimited, HookAnswer::RateLimited(wait)));
        }
        let Some(store) = self.directory.store(organization_id, &request.to).await? else {
            journal.record(Outcome::NotLinked, Some(organization_id), None).await?;
            return Ok(counted(
                Outcome::NotLinked,
                HookAnswer::Voice(Outcome::NotLinked, VoiceResponse::not_linked()),
            ));
        };

        let (outcome, response) = match store.forwarding_number.as_deref() {
            Some(number) => {
                let number =
                    PhoneNumber::parse(number, PhoneValidation::Format).map_err(Unavailable::ForwardingNumber)?;
                (Outcome::Dial, VoiceResponse::Dial(number))
            }
            None => (Outcome::NoForwarding, VoiceResponse::no_forwarding()),
        };
        // The writer checks the opt-out and the cool-down, and commits the SMS
        // with the journal row, or neither.
        let welcome = NewWelcome {
            id: uuid::Uuid::now_v7(),
            from: request.to.clone(),
            to: request.from.clone(),
            body: welcome::render(
                store.store_welcome.as_deref(),
                store.organization_welcome.as_deref(),
                &store.store_name,
            ),
            context: request.context.clone(),
        };
        let sms = journal
            .record(outcome, Some(organization_id), Some((store.store_id, welcome)))
            .await?;
        if matches!(sms, Some(Ok(_))) {
            metrics::counter!("ivr_sms_queued_total").increment(1);
        }
        Ok(counted(outcome, HookAnswer::Voice(outcome, response)))
    }
}

/// Counts an answer whose journal row is committed.
fn counted(outcome: Outcome, answer: HookAnswer) -> HookAnswer {
    metrics::counter!("ivr_calls_total", "outcome" => outcome.as_str()).increment(1);
    answer
}

/// Writes the journal row for the request being answered.
struct Journal<'a> {
    writer: &'a CallWriter,
    method: &'static str,
    raw: &'a RawIvrRequest,
}

impl Journal<'_> {
    async fn record(
        &self,
        outcome: Outcome,
        organization_id: Option<i64>,
        store: Option<(i64, NewWelcome)>,
    ) -> Result<WelcomeOutcome, WriteFailed> {
        let (store_id, welcome) = store.unzip();
        self.writer
            .write(NewCall {
                method: self.method,
                from: self.raw.from.journal_text(),
                to: self.raw.to.journal_text(),
                context: self.raw.context.journal_text(),
                organization_id,
                store_id,
                outcome,
                welcome,
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use crate::platform::telemetry::Chain;

    #[test]
    fn a_chain_shows_every_cause() {
        let root = std::io::Error::other("connection reset");
        let failed =
            crate::platform::group_commit::WriteFailed::Database("journal", std::sync::Arc::new(sqlx::Error::Io(root)));
        let unavailable = super::Unavailable::from(failed);
        assert_eq!(
            Chain(&unavailable).to_string(),
            "cannot journal the call: the journal writer's batch failed: error communicating with database: connection reset"
        );
    }
}
