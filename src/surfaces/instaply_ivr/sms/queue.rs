//! The outbox as a work queue: claims with a lease, fenced finishes.
//!
//! A claim moves `next_attempt_at` to the end of the lease and stamps the rows
//! with a fresh `lease_token`. A worker that dies simply lets its lease run
//! out: the rows are due again and another worker claims them (with a new
//! token). Every write that ends an attempt names the token it claimed with,
//! so a worker whose lease expired cannot overwrite a newer attempt.

use std::time::Duration;

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::platform::outbox::DeliveryCounters;
use crate::platform::outbox::counters::MetricNames;
use crate::platform::outbox::{self, EndedAttempt, Finish};
use crate::platform::vocabulary::vocabulary;

/// The `/metrics` names of the welcome SMS worker's counters.
pub const SMS_METRICS: MetricNames = MetricNames {
    delivered: "ivr_sms_delivered_total",
    failed: "ivr_sms_failed_total",
    retried: "ivr_sms_retried_total",
};

/// Counters for a welcome SMS worker, under [`SMS_METRICS`].
pub fn counters() -> std::sync::Arc<DeliveryCounters> {
    std::sync::Arc::new(DeliveryCounters::named(&SMS_METRICS))
}

vocabulary! {
    /// Where an SMS stands (`sms_outbox.status`): the admin filter, its
    /// OpenAPI pattern and the table's CHECK constraint follow this list (tested).
    pub enum SmsStatus {
        Queued => "queued",
        Delivered => "delivered",
        Failed => "failed",
    }
}

impl SmsStatus {
    /// The status an attempt that ended this way leaves its SMS in.
    fn after(finish: &Finish) -> Self {
        match finish {
            Finish::Delivered { .. } => Self::Delivered,
            Finish::Retry { .. } => Self::Queued,
            Finish::Failed { .. } => Self::Failed,
        }
    }
}

/// The welcome SMS outbox (`sms_outbox`, its attempts in `sms_attempts`).
pub struct SmsOutbox;

impl outbox::Queue for SmsOutbox {
    type Job = ClaimedSms;
    const NAME: &'static str = "sms";
    const FINISH_WRITER: &'static str = "sms_finish";
    /// Sent by a statement trigger on `sms_outbox` whenever rows become due.
    const DUE_CHANNEL: &'static str = "sms_outbox_due";

    fn claim(
        &self,
        pool: &PgPool,
        limit: i64,
        lease: Duration,
    ) -> impl Future<Output = sqlx::Result<Vec<ClaimedSms>>> + Send {
        claim(pool, limit, lease)
    }

    fn finish(
        &self,
        conn: &mut PgConnection,
        attempts: &[&EndedAttempt],
    ) -> impl Future<Output = sqlx::Result<Vec<bool>>> + Send {
        finish_batch(conn, attempts)
    }

    fn release(&self, pool: &PgPool, unstarted: &[ClaimedSms]) -> impl Future<Output = sqlx::Result<u64>> + Send {
        release(pool, unstarted)
    }
}

/// One claimed SMS, with what a transport needs to send it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedSms {
    pub id: Uuid,
    pub from: String,
    pub to: String,
    pub body: String,
    pub context: Option<String>,
    pub store: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// This attempt's number, from 1.
    pub attempt: i32,
    pub lease_token: Uuid,
}

impl outbox::Job for ClaimedSms {
    fn id(&self) -> Uuid {
        self.id
    }

    fn lease_token(&self) -> Uuid {
        self.lease_token
    }

    fn attempt(&self) -> i32 {
        self.attempt
    }
}

/// Claims up to `limit` due SMS for `lease`. Rows another worker is claiming
/// right now are skipped, not waited for.
///
/// The claim is durable before it returns (an ordinary commit, one WAL flush
/// per batch): a send starts only once its claim would survive a crash, so
/// a worker that got an acknowledgement can always record it under its own
/// lease token.
///
/// A lease that ran out is taken over at once if it was granted since the
/// database last started; one granted before a restart only once the
/// database has been up for a whole `lease`: its worker may still be alive
/// with an acknowledged send it could not record while the database was
/// away, and it is given that long to record it.
pub async fn claim(pool: &PgPool, limit: i64, lease: Duration) -> sqlx::Result<Vec<ClaimedSms>> {
    let lease_token = Uuid::new_v4();
    let rows = sqlx::query!(
        r#"WITH due AS (
               SELECT id FROM sms_outbox
               WHERE status = 'queued' AND next_attempt_at <= now()
                 AND (lease_token IS NULL OR claimed_at >= pg_postmaster_start_time()
                      OR now() >= pg_postmaster_start_time() + make_interval(secs => $3))
               ORDER BY next_attempt_at
               LIMIT $1
               FOR UPDATE SKIP LOCKED
           )
           UPDATE sms_outbox s
           SET attempts = s.attempts + 1, lease_token = $2, claimed_at = now(),
               next_attempt_at = now() + make_interval(secs => $3)
           FROM due
           WHERE s.id = due.id
           RETURNING s.id, s.from_number::text AS "from!", s.to_number::text AS "to!", s.body, s.context,
                     (SELECT name FROM stores WHERE stores.id = s.store_id) AS store,
                     to_char(s.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS "created_at!",
                     s.attempts"#,
        limit,
        lease_token,
        lease.as_secs_f64(),
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| ClaimedSms {
            id: row.id,
            from: row.from,
            to: row.to,
            body: row.body,
            context: row.context,
            store: row.store,
            created_at: row.created_at,
            attempt: row.attempts,
            lease_token,
        })
        .collect())
}

/// Records every attempt and, for each SMS that still holds its lease, ends
/// it as its `finish` says; one statement for the batch. Returns, per
/// attempt, whether it held its lease: false when the row was claimed again
/// meanwhile (the attempt is logged, the row is left to its new owner).
pub async fn finish_batch(conn: &mut PgConnection, attempts: &[&EndedAttempt]) -> sqlx::Result<Vec<bool>> {
    let columns = outbox::FinishColumns::of(attempts, |finish| SmsStatus::after(finish).as_str());
    let fenced: Vec<i64> = sqlx::query_scalar!(
        r#"WITH ended AS (
               SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::float8[], $5::text[], $6::text[],
                                    $7::int4[], $8::float8[], $9::int4[], $10::int2[], $11::text[])
                   WITH ORDINALITY AS e(id, lease_token, status, retry_after, error, provider_message_id,
                                        attempt, started_ms, duration_ms, http_status, outcome, position)
           ), finished AS (
               UPDATE sms_outbox s
               SET status = e.status,
                   delivered_at = CASE WHEN e.status = 'delivered' THEN now() END,
                   next_attempt_at = now() + make_interval(secs => e.retry_after),
                   lease_token = NULL,
                   last_error = e.error,
                   provider_message_id = coalesce(e.provider_message_id, s.provider_message_id)
               FROM ended e
               WHERE s.id = e.id AND s.lease_token = e.lease_token
               RETURNING e.position
           ), logged AS (
               INSERT INTO sms_attempts (sms_id, attempt, started_at, duration_ms, http_status, outcome, error)
               SELECT id, attempt, to_timestamp(started_ms / 1000), duration_ms, http_status, outcome, error
               FROM ended ORDER BY position
           )
           SELECT position AS "position!" FROM finished"#,
        &columns.ids,
        &columns.lease_tokens,
        &columns.statuses as &[&str],
        &columns.retry_after,
        &columns.errors as &[Option<&str>],
        &columns.provider_message_ids as &[Option<&str>],
        &columns.attempts,
        &columns.started_ms,
        &columns.duration_ms,
        &columns.http_statuses as &[Option<i16>],
        &columns.outcomes as &[&str],
    )
    .fetch_all(conn)
    .await?;
    Ok(columns.held(fenced))
}

/// Hands back claimed SMS that were never attempted (shutdown): due at once,
/// their attempt count restored. Rows whose lease moved on are left alone.
pub async fn release(pool: &PgPool, unstarted: &[ClaimedSms]) -> sqlx::Result<u64> {
    let ids: Vec<Uuid> = unstarted.iter().map(|sms| sms.id).collect();
    let tokens: Vec<Uuid> = unstarted.iter().map(|sms| sms.lease_token).collect();
    let released = sqlx::query!(
        "UPDATE sms_outbox s
         SET attempts = s.attempts - 1, lease_token = NULL, next_attempt_at = now()
         FROM unnest($1::uuid[], $2::uuid[]) AS claimed(id, lease_token)
         WHERE s.id = claimed.id AND s.lease_token = claimed.lease_token",
        &ids,
        &tokens,
    )
    .execute(pool)
    .await?;
    Ok(released.rows_affected())
}

/// Why an operator's retry was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RetryRefused {
    #[error("no SMS with id {0}")]
    Unknown(Uuid),
    #[error("SMS {0} is {1}, not failed: only failed SMS can be re-queued")]
    NotFailed(Uuid, String),
}

/// Re-queues a failed SMS for immediate delivery with a fresh attempt budget.
pub async fn requeue_failed(pool: &PgPool, id: Uuid) -> sqlx::Result<Result<(), RetryRefused>> {
    let mut tx = pool.begin().await?;
    let status = sqlx::query_scalar!("SELECT status FROM sms_outbox WHERE id = $1 FOR UPDATE", id)
        .fetch_optional(&mut *tx)
        .await?;
    match status.as_deref() {
        None => return Ok(Err(RetryRefused::Unknown(id))),
        Some("failed") => {}
        Some(other) => return Ok(Err(RetryRefused::NotFailed(id, other.to_owned()))),
    }
    sqlx::query!(
        "UPDATE sms_outbox SET status = 'queued', attempts = 0, next_attempt_at = now(), lease_token = NULL WHERE id = $1",
        id
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("SELECT pg_notify('sms_outbox_due', '')")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Ok(()))
}

/// Depth of the queue and age of its oldest due SMS, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct QueueStats {
    pub queued: i64,
    pub due: i64,
    pub oldest_due_age: Duration,
}

pub async fn stats(pool: &PgPool) -> sqlx::Result<QueueStats> {
    let row = sqlx::query!(
        r#"SELECT count(*) AS "queued!",
                  count(*) FILTER (WHERE next_attempt_at <= now()) AS "due!",
                  coalesce(extract(epoch FROM now() - min(next_attempt_at) FILTER (WHERE next_attempt_at <= now())), 0)::float8 AS "oldest_due_age!"
           FROM sms_outbox WHERE status = 'queued'"#
    )
    .fetch_one(pool)
    .await?;
    Ok(QueueStats {
        queued: row.queued,
        due: row.due,
        oldest_due_age: Duration::from_secs_f64(row.oldest_due_age.max(0.0)),
    })
}
