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

/// Claims up to `limit` due SMS for `lease`. Rows another worker is claiming
/// right now are skipped, not waited for.
pub async fn claim(pool: &PgPool, limit: i64, lease: Duration) -> sqlx::Result<Vec<ClaimedSms>> {
    let lease_token = Uuid::new_v4();
    let rows = sqlx::query!(
        r#"WITH due AS (
               SELECT id FROM sms_outbox
               WHERE status = 'queued' AND next_attempt_at <= now()
               ORDER BY next_attempt_at
               LIMIT $1
               FOR UPDATE SKIP LOCKED
           )
           UPDATE sms_outbox s
           SET attempts = s.attempts + 1, lease_token = $2, next_attempt_at = now() + make_interval(secs => $3)
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

/// How an attempt ended, as the queue records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finish {
    Delivered {
        provider_message_id: Option<String>,
    },
    /// Try again after `after`.
    Retry {
        after: Duration,
        error: String,
    },
    Failed {
        error: String,
    },
}

/// What was observed during one attempt, for `sms_attempts`.
#[derive(Clone, Debug)]
pub struct AttemptLog {
    pub started_at_unix_ms: i64,
    pub duration: Duration,
    pub http_status: Option<u16>,
}

/// Records the attempt and, if `sms` still holds its lease, ends it as
/// `finish` says. Returns false when the lease was lost (the row was claimed
/// again meanwhile): the attempt is logged, the row is left to its new owner.
pub async fn finish(
    conn: &mut PgConnection,
    sms: &ClaimedSms,
    finish: &Finish,
    log: &AttemptLog,
) -> sqlx::Result<bool> {
    let (status, outcome, retry_after, error, provider_message_id) = match finish {
        Finish::Delivered { provider_message_id } => {
            ("delivered", "delivered", 0.0, None, provider_message_id.as_deref())
        }
        Finish::Retry { after, error } => ("queued", "retry", after.as_secs_f64(), Some(error.as_str()), None),
        Finish::Failed { error } => ("failed", "failed", 0.0, Some(error.as_str()), None),
    };
    sqlx::query_scalar!(
        r#"WITH finished AS (
               UPDATE sms_outbox
               SET status = $3,
                   delivered_at = CASE WHEN $3 = 'delivered' THEN now() END,
                   next_attempt_at = now() + make_interval(secs => $4),
                   lease_token = NULL,
                   last_error = $5,
                   provider_message_id = coalesce($6, provider_message_id)
               WHERE id = $1 AND lease_token = $2
               RETURNING id
           ), logged AS (
               INSERT INTO sms_attempts (sms_id, attempt, started_at, duration_ms, http_status, outcome, error)
               VALUES ($1, $7, to_timestamp($8::float8 / 1000), $9, $10, $11, $5)
           )
           SELECT EXISTS (SELECT 1 FROM finished) AS "fenced!""#,
        sms.id,
        sms.lease_token,
        status,
        retry_after,
        error,
        provider_message_id,
        sms.attempt,
        log.started_at_unix_ms as f64,
        i32::try_from(log.duration.as_millis()).unwrap_or(i32::MAX),
        log.http_status.map(|s| s as i16),
        outcome,
    )
    .fetch_one(conn)
    .await
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
