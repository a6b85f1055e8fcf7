//! The call journal, and the welcome SMS a journaled call queues: both are
//! written by one statement per batch of calls, so that a committed call and
//! its queued SMS exist together or not at all.

use std::collections::HashMap;
use std::time::Duration;

use sqlx::PgConnection;

use crate::platform::group_commit::{BatchStatement, GroupCommit};
use uuid::Uuid;

use crate::platform::domain::PhoneNumber;
use crate::platform::vocabulary::vocabulary;
use crate::surfaces::instaply_ivr::domain::CallContext;

vocabulary! {
    /// How a request ended, as journaled and reported by the admin API; the
    /// admin filter, its OpenAPI pattern and the journal's CHECK constraint
    /// follow this list (tested).
    pub enum Outcome {
        Dial => "dial",
        NoForwarding => "no_forwarding",
        NotLinked => "not_linked",
        InvalidKey => "invalid_key",
        InvalidRequest => "invalid_request",
        RateLimited => "rate_limited",
        InvalidSignature => "invalid_signature",
    }
}

impl Outcome {
    /// The HTTP status the caller gets for it.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidRequest => 400,
            Self::InvalidKey | Self::InvalidSignature => 403,
            Self::RateLimited => 429,
            Self::Dial | Self::NoForwarding | Self::NotLinked => 200,
        }
    }
}

vocabulary! {
    /// Why a found store's call queued no welcome SMS.
    pub enum SmsSkipped {
        OptedOut => "opted_out",
        Cooldown => "cooldown",
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
    /// The welcome SMS this call queues, unless the caller opted out or is cooling down.
    pub welcome: Option<NewWelcome>,
}

/// A welcome SMS about to be queued, from the store's business number to the caller.
#[derive(Clone, Debug)]
pub struct NewWelcome {
    /// Also the idempotency key of every delivery attempt. v7 ids are
    /// time-ordered, which keeps the primary key index append-mostly.
    pub id: Uuid,
    pub from: PhoneNumber,
    pub to: PhoneNumber,
    pub body: String,
    pub context: Option<CallContext>,
}

/// What became of a call's welcome SMS; `None` for a call that had none to queue.
pub type WelcomeOutcome = Option<Result<Uuid, SmsSkipped>>;

/// Journals `calls` and queues their welcome SMS in one statement, and tells
/// each call (in order) what became of its SMS.
///
/// The cool-down is claimed once per (store, caller): by the batch's first
/// such call, through an upsert on `welcome_cooldowns` whose row lock
/// serialises concurrent batches (claims are taken in key order, so two
/// batches cannot deadlock on each other); later calls of the batch read as
/// cooling down. A mark already visible as recent skips the upsert and its
/// lock: a caller who keeps calling does not queue behind their own calls.
/// A zero `cooldown` turns the cool-down off: every call queues its SMS.
pub async fn record_batch(
    conn: &mut PgConnection,
    calls: &[&NewCall],
    cooldown: Duration,
) -> sqlx::Result<Vec<WelcomeOutcome>> {
    let columns = Columns::of(calls, cooldown);
    let rows = sqlx::query!(
        r#"WITH input AS (
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[],
                                    $7::text[], $8::int2[], $9::uuid[], $10::text[], $11::text[], $12::text[],
                                    $13::text[], $14::int8[])
                   WITH ORDINALITY AS t(method, from_raw, to_raw, context_raw, organization_id, store_id, outcome,
                                        http_status, sms_id, sms_from, sms_to, body, sms_context, leader, ord)
           ), opted AS (
               SELECT i.ord FROM input i
               WHERE i.sms_id IS NOT NULL AND EXISTS (
                   SELECT 1 FROM opt_outs o WHERE o.organization_id = i.organization_id AND o.phone = i.sms_to)
           ), candidates AS (
               SELECT i.ord, i.store_id, i.sms_to FROM input i
               WHERE i.sms_id IS NOT NULL AND i.leader = i.ord AND i.ord NOT IN (SELECT ord FROM opted)
           ), claimed AS (
               INSERT INTO welcome_cooldowns (store_id, caller, sent_at)
               SELECT c.store_id, c.sms_to, now() FROM candidates c
               WHERE $15::float8 > 0 AND NOT EXISTS (
                   SELECT 1 FROM welcome_cooldowns w
                   WHERE w.store_id = c.store_id AND w.caller = c.sms_to
                     AND w.sent_at > now() - make_interval(secs => $15))
               ORDER BY c.store_id, c.sms_to
               ON CONFLICT (store_id, caller) DO UPDATE SET sent_at = EXCLUDED.sent_at
                   WHERE welcome_cooldowns.sent_at <= now() - make_interval(secs => $15)
               RETURNING store_id, caller
           ), queued AS (
               SELECT c.ord FROM candidates c
               WHERE $15 = 0 OR EXISTS (SELECT 1 FROM claimed k WHERE k.store_id = c.store_id AND k.caller = c.sms_to)
           ), sms AS (
               INSERT INTO sms_outbox (id, organization_id, store_id, from_number, to_number, body, context)
               SELECT i.sms_id, i.organization_id, i.store_id, i.sms_from, i.sms_to, i.body, i.sms_context
               FROM input i JOIN queued q ON q.ord = i.ord
               ORDER BY i.ord
           ), outcomes AS (
               SELECT i.*, CASE WHEN q.ord IS NOT NULL THEN i.sms_id END AS queued_id,
                      CASE WHEN i.sms_id IS NULL OR q.ord IS NOT NULL THEN NULL
                           WHEN o.ord IS NOT NULL THEN 'opted_out'
                           ELSE 'cooldown' END AS skipped
               FROM input i LEFT JOIN queued q ON q.ord = i.ord LEFT JOIN opted o ON o.ord = i.ord
           ), journal AS (
               INSERT INTO calls (method, from_number, to_number, context, organization_id, store_id,
                                  outcome, http_status, sms_id, sms_skipped)
               SELECT method, from_raw, to_raw, context_raw, organization_id, store_id,
                      outcome, http_status, queued_id, skipped
               FROM outcomes ORDER BY ord
           )
           SELECT queued_id, skipped FROM outcomes ORDER BY ord"#,
        &columns.method as &[&str],
        &columns.from as &[Option<&str>],
        &columns.to as &[Option<&str>],
        &columns.context as &[Option<&str>],
        &columns.organization_id as &[Option<i64>],
        &columns.store_id as &[Option<i64>],
        &columns.outcome as &[&str],
        &columns.http_status as &[i16],
        &columns.sms_id as &[Option<Uuid>],
        &columns.sms_from as &[Option<&str>],
        &columns.sms_to as &[Option<&str>],
        &columns.body as &[Option<&str>],
        &columns.sms_context as &[Option<&str>],
        &columns.leader as &[Option<i64>],
        cooldown.as_secs_f64(),
    )
    .fetch_all(conn)
    .await?;
    Ok(calls
        .iter()
        .zip(rows)
        .map(|(call, row)| {
            call.welcome
                .as_ref()
                .map(|_| match (row.queued_id, row.skipped.as_deref()) {
                    (Some(id), _) => Ok(id),
                    (None, Some("opted_out")) => Err(SmsSkipped::OptedOut),
                    (None, _) => Err(SmsSkipped::Cooldown),
                })
        })
        .collect())
}

/// A batch as one array per column, the shape `unnest` takes.
struct Columns<'a> {
    method: Vec<&'a str>,
    from: Vec<Option<&'a str>>,
    to: Vec<Option<&'a str>>,
    context: Vec<Option<&'a str>>,
    organization_id: Vec<Option<i64>>,
    store_id: Vec<Option<i64>>,
    outcome: Vec<&'a str>,
    http_status: Vec<i16>,
    sms_id: Vec<Option<Uuid>>,
    sms_from: Vec<Option<&'a str>>,
    sms_to: Vec<Option<&'a str>>,
    body: Vec<Option<&'a str>>,
    sms_context: Vec<Option<&'a str>>,
    /// The 1-based position of the call that claims this call's cool-down.
    leader: Vec<Option<i64>>,
}

impl<'a> Columns<'a> {
    fn of(calls: &[&'a NewCall], cooldown: Duration) -> Self {
        let mut leaders: HashMap<(i64, &str), i64> = HashMap::new();
        let mut columns = Columns {
            method: Vec::with_capacity(calls.len()),
            from: Vec::with_capacity(calls.len()),
            to: Vec::with_capacity(calls.len()),
            context: Vec::with_capacity(calls.len()),
            organization_id: Vec::with_capacity(calls.len()),
            store_id: Vec::with_capacity(calls.len()),
            outcome: Vec::with_capacity(calls.len()),
            http_status: Vec::with_capacity(calls.len()),
            sms_id: Vec::with_capacity(calls.len()),
            sms_from: Vec::with_capacity(calls.len()),
            sms_to: Vec::with_capacity(calls.len()),
            body: Vec::with_capacity(calls.len()),
            sms_context: Vec::with_capacity(calls.len()),
            leader: Vec::with_capacity(calls.len()),
        };
        for (position, call) in (1..).zip(calls) {
            columns.method.push(call.method);
            columns.from.push(call.from.as_deref());
            columns.to.push(call.to.as_deref());
            columns.context.push(call.context.as_deref());
            columns.organization_id.push(call.organization_id);
            columns.store_id.push(call.store_id);
            columns.outcome.push(call.outcome.as_str());
            columns.http_status.push(call.outcome.http_status() as i16);
            let welcome = call.welcome.as_ref();
            columns.sms_id.push(welcome.map(|w| w.id));
            columns.sms_from.push(welcome.map(|w| w.from.as_str()));
            columns.sms_to.push(welcome.map(|w| w.to.as_str()));
            columns.body.push(welcome.map(|w| w.body.as_str()));
            columns
                .sms_context
                .push(welcome.and_then(|w| w.context.as_ref()).map(CallContext::as_str));
            columns.leader.push(match (welcome, call.store_id) {
                (Some(w), Some(store)) if !cooldown.is_zero() => {
                    Some(*leaders.entry((store, w.to.as_str())).or_insert(position))
                }
                (Some(_), _) => Some(position),
                (None, _) => None,
            });
        }
        columns
    }
}

/// The call journal's statement: journal rows and welcome SMS, cool-down included.
pub struct JournalCalls {
    pub cooldown: Duration,
}

impl BatchStatement for JournalCalls {
    type Item = NewCall;
    type Output = WelcomeOutcome;
    const NAME: &'static str = "journal";
    /// A caller answered 503 must not find its SMS queued anyway.
    const UNDONE_WHEN_ABANDONED: bool = true;

    fn write(
        &self,
        conn: &mut PgConnection,
        items: &[&NewCall],
    ) -> impl Future<Output = sqlx::Result<Vec<WelcomeOutcome>>> + Send {
        record_batch(conn, items, self.cooldown)
    }
}

/// Journal commits in flight at once. One measured fastest: while a batch
/// commits, calls gather into the next, and a bigger batch costs the database
/// less per call (dial with new callers: 1 slot 14,700 req/s, 2 slots 14,000,
/// 4 slots 11,200).
pub const JOURNAL_SLOTS: usize = 1;

/// The call journal's writer, shared by every HTTP worker.
pub type CallWriter = GroupCommit<JournalCalls>;
