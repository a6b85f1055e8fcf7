//! The queue of event deliveries (`webhook_deliveries`, attempts in
//! `webhook_delivery_attempts`), drained by the platform's outbox worker,
//! and its listings for `/admin`.

use std::time::Duration;

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::platform::outbox::{self, EndedAttempt, Finish};
use crate::surfaces::instaply_messaging::domain::{DeliveryStatus, ExtraHeader};

/// The event deliveries' outbox.
pub struct DeliveryOutbox;

impl outbox::Queue for DeliveryOutbox {
    type Job = ClaimedDelivery;
    const NAME: &'static str = "webhook_deliveries";
    const FINISH_WRITER: &'static str = "webhook_finish";
    /// Sent by a statement trigger whenever deliveries are queued.
    const DUE_CHANNEL: &'static str = "webhook_deliveries_due";

    fn claim(
        &self,
        pool: &PgPool,
        limit: i64,
        lease: Duration,
    ) -> impl Future<Output = sqlx::Result<Vec<ClaimedDelivery>>> + Send {
        claim(pool, limit, lease)
    }

    fn finish(
        &self,
        conn: &mut PgConnection,
        attempts: &[&EndedAttempt],
    ) -> impl Future<Output = sqlx::Result<Vec<bool>>> + Send {
        finish_batch(conn, attempts)
    }

    fn release(&self, pool: &PgPool, unstarted: &[ClaimedDelivery]) -> impl Future<Output = sqlx::Result<u64>> + Send {
        release(pool, unstarted)
    }
}

/// One claimed delivery: everything its POST needs.
#[derive(Clone, Debug)]
pub struct ClaimedDelivery {
    pub id: Uuid,
    pub url: String,
    pub headers: Vec<ExtraHeader>,
    pub payload: String,
    pub attempt: i32,
    pub lease_token: Uuid,
}

impl outbox::Job for ClaimedDelivery {
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

/// Claims due deliveries under a durable lease; the same rules as the SMS
/// outbox's claim (a lease granted before the database's last start is
/// taken over only once it has been up for a whole lease).
async fn claim(pool: &PgPool, limit: i64, lease: Duration) -> sqlx::Result<Vec<ClaimedDelivery>> {
    let lease_token = Uuid::new_v4();
    let rows = sqlx::query!(
        r#"WITH due AS (
               SELECT id FROM webhook_deliveries
               WHERE status = 'queued' AND next_attempt_at <= now()
                 AND (lease_token IS NULL OR claimed_at >= pg_postmaster_start_time()
                      OR now() >= pg_postmaster_start_time() + make_interval(secs => $3))
               ORDER BY next_attempt_at
               LIMIT $1
               FOR UPDATE SKIP LOCKED
           )
           UPDATE webhook_deliveries d
           SET attempts = d.attempts + 1, lease_token = $2, claimed_at = now(),
               next_attempt_at = now() + make_interval(secs => $3)
           FROM due
           WHERE d.id = due.id
           RETURNING d.id, d.url, d.headers, d.payload, d.attempts"#,
        limit,
        lease_token,
        lease.as_secs_f64(),
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| ClaimedDelivery {
            id: row.id,
            url: row.url,
            // Captured from a validated webhook when the event was queued.
            headers: serde_json::from_value(row.headers).unwrap_or_default(),
            payload: row.payload,
            attempt: row.attempts,
            lease_token,
        })
        .collect())
}

/// Records every attempt and ends each delivery that still holds its lease;
/// one statement. Returns, per attempt, whether it held its lease.
async fn finish_batch(conn: &mut PgConnection, attempts: &[&EndedAttempt]) -> sqlx::Result<Vec<bool>> {
    let columns = outbox::FinishColumns::of(attempts, |finish| status_after(finish).as_str());
    let fenced: Vec<i64> = sqlx::query_scalar!(
        r#"WITH ended AS (
               SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::float8[], $5::text[],
                                    $6::int4[], $7::float8[], $8::int4[], $9::int2[], $10::text[])
                   WITH ORDINALITY AS e(id, lease_token, status, retry_after, error,
                                        attempt, started_ms, duration_ms, http_status, outcome, position)
           ), finished AS (
               UPDATE webhook_deliveries d
               SET status = e.status,
                   delivered_at = CASE WHEN e.status = 'delivered' THEN now() END,
                   next_attempt_at = now() + make_interval(secs => e.retry_after),
                   lease_token = NULL,
                   last_error = e.error
               FROM ended e
               WHERE d.id = e.id AND d.lease_token = e.lease_token
               RETURNING e.position
           ), logged AS (
               INSERT INTO webhook_delivery_attempts (delivery_id, attempt, started_at, duration_ms, http_status, outcome, error)
               SELECT id, attempt, to_timestamp(started_ms / 1000), duration_ms, http_status, outcome, error
               FROM ended ORDER BY position
           )
           SELECT position AS "position!" FROM finished"#,
        &columns.ids,
        &columns.lease_tokens,
        &columns.statuses as &[&str],
        &columns.retry_after,
        &columns.errors as &[Option<&str>],
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

fn status_after(finish: &Finish) -> DeliveryStatus {
    match finish {
        Finish::Delivered { .. } => DeliveryStatus::Delivered,
        Finish::Retry { .. } => DeliveryStatus::Queued,
        Finish::Failed { .. } => DeliveryStatus::Failed,
    }
}

/// Hands back claimed deliveries never attempted: due at once, count restored.
async fn release(pool: &PgPool, unstarted: &[ClaimedDelivery]) -> sqlx::Result<u64> {
    let ids: Vec<Uuid> = unstarted.iter().map(|d| d.id).collect();
    let tokens: Vec<Uuid> = unstarted.iter().map(|d| d.lease_token).collect();
    let released = sqlx::query!(
        "UPDATE webhook_deliveries d
         SET attempts = d.attempts - 1, lease_token = NULL, next_attempt_at = now()
         FROM unnest($1::uuid[], $2::uuid[]) AS claimed(id, lease_token)
         WHERE d.id = claimed.id AND d.lease_token = claimed.lease_token",
        &ids,
        &tokens,
    )
    .execute(pool)
    .await?;
    Ok(released.rows_affected())
}

/// Queues a delivery again at once, with a fresh attempt budget; its id
/// (and so its `X-Delivery-Id`) stays. `false` if there is no such delivery.
pub async fn redeliver(pool: &PgPool, id: Uuid) -> sqlx::Result<bool> {
    let requeued = sqlx::query!(
        "UPDATE webhook_deliveries SET status = 'queued', attempts = 0, next_attempt_at = now(), lease_token = NULL,
             delivered_at = NULL
         WHERE id = $1",
        id,
    )
    .execute(pool)
    .await?;
    if requeued.rows_affected() == 1 {
        sqlx::query!("SELECT pg_notify('webhook_deliveries_due', '')")
            .execute(pool)
            .await?;
    }
    Ok(requeued.rows_affected() == 1)
}
