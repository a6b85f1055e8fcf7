//! The SMS outbox: rows written inside the caller's transaction, so that a
//! committed call and its queued SMS exist together or not at all.

use std::time::Duration;

use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::{CallContext, PhoneNumber};

/// A welcome SMS about to be queued.
#[derive(Clone, Debug)]
pub struct NewSms<'a> {
    pub organization_id: i64,
    pub store_id: i64,
    pub from: &'a PhoneNumber,
    pub to: &'a PhoneNumber,
    pub body: &'a str,
    pub context: Option<&'a CallContext>,
}

/// Queues `sms` and returns its id, which is also the idempotency key every
/// delivery attempt carries. v7 ids are time-ordered, which keeps the primary
/// key index append-mostly.
pub async fn enqueue(conn: &mut PgConnection, sms: &NewSms<'_>) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO sms_outbox (id, organization_id, store_id, from_number, to_number, body, context)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        id,
        sms.organization_id,
        sms.store_id,
        sms.from.as_str() as &str,
        sms.to.as_str() as &str,
        sms.body,
        sms.context.map(CallContext::as_str),
    )
    .execute(conn)
    .await?;
    Ok(id)
}

/// Takes the (store, caller) welcome slot if the last welcome is older than
/// `cooldown`; returns false while it is still cooling down.
///
/// The upsert's row lock serialises simultaneous calls: a second transaction
/// waits for the first to commit, then re-checks the updated row and loses.
/// A mark already visible as recent skips the upsert, and with it the lock:
/// a caller who keeps calling does not queue behind their own calls.
pub async fn claim_welcome_slot(
    conn: &mut PgConnection,
    store_id: i64,
    caller: &PhoneNumber,
    cooldown: Duration,
) -> sqlx::Result<bool> {
    if cooldown.is_zero() {
        return Ok(true);
    }
    sqlx::query_scalar!(
        r#"WITH cooling AS (
               SELECT 1 FROM welcome_cooldowns
               WHERE store_id = $1 AND caller = $2 AND sent_at > now() - make_interval(secs => $3)
           ), claimed AS (
               INSERT INTO welcome_cooldowns (store_id, caller, sent_at)
               SELECT $1, $2, now() WHERE NOT EXISTS (SELECT 1 FROM cooling)
               ON CONFLICT (store_id, caller) DO UPDATE SET sent_at = EXCLUDED.sent_at
                   WHERE welcome_cooldowns.sent_at <= now() - make_interval(secs => $3)
               RETURNING store_id
           )
           SELECT EXISTS (SELECT 1 FROM claimed) AS "claimed!""#,
        store_id,
        caller.as_str() as &str,
        cooldown.as_secs_f64(),
    )
    .fetch_one(conn)
    .await
}
