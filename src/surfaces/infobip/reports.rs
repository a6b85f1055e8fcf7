//! Delivery reports: their outbox (`infobip_reports`, attempts in
//! `infobip_report_attempts`) drained by the platform's worker, the POST
//! that sends one, the pull that hands each out once, and the listings.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::platform::outbox::http::{from_request_error, from_response_status, snippet};
use crate::platform::outbox::{self, Deliver, Delivery, EndedAttempt, Finish};

pub struct ReportOutbox;

impl outbox::Queue for ReportOutbox {
    type Job = ClaimedReport;
    const NAME: &'static str = "infobip_reports";
    const FINISH_WRITER: &'static str = "infobip_report_finish";
    /// Sent by a statement trigger whenever reports are queued.
    const DUE_CHANNEL: &'static str = "infobip_reports_due";

    fn claim(
        &self,
        pool: &PgPool,
        limit: i64,
        lease: Duration,
    ) -> impl Future<Output = sqlx::Result<Vec<ClaimedReport>>> + Send {
        claim(pool, limit, lease)
    }

    fn finish(
        &self,
        conn: &mut PgConnection,
        attempts: &[&EndedAttempt],
    ) -> impl Future<Output = sqlx::Result<Vec<bool>>> + Send {
        finish_batch(conn, attempts)
    }

    fn release(&self, pool: &PgPool, unstarted: &[ClaimedReport]) -> impl Future<Output = sqlx::Result<u64>> + Send {
        release(pool, unstarted)
    }
}

/// One claimed report: everything its POST needs.
#[derive(Clone, Debug)]
pub struct ClaimedReport {
    pub id: Uuid,
    pub url: String,
    pub content_type: String,
    pub payload: String,
    pub attempt: i32,
    pub lease_token: Uuid,
}

impl outbox::Job for ClaimedReport {
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

/// The same claim rules as every outbox (see the SMS queue's claim).
async fn claim(pool: &PgPool, limit: i64, lease: Duration) -> sqlx::Result<Vec<ClaimedReport>> {
    let lease_token = Uuid::new_v4();
    let rows = sqlx::query!(
        r#"WITH due AS (
               SELECT id FROM infobip_reports
               WHERE status = 'queued' AND next_attempt_at <= now()
                 AND (lease_token IS NULL OR claimed_at >= pg_postmaster_start_time()
                      OR now() >= pg_postmaster_start_time() + make_interval(secs => $3))
               ORDER BY next_attempt_at
               LIMIT $1
               FOR UPDATE SKIP LOCKED
           )
           UPDATE infobip_reports r
           SET attempts = r.attempts + 1, lease_token = $2, claimed_at = now(),
               next_attempt_at = now() + make_interval(secs => $3)
           FROM due
           WHERE r.id = due.id
           RETURNING r.id, r.url AS "url!", r.content_type, r.payload, r.attempts"#,
        limit,
        lease_token,
        lease.as_secs_f64(),
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| ClaimedReport {
            id: row.id,
            url: row.url,
            content_type: row.content_type,
            payload: row.payload,
            attempt: row.attempts,
            lease_token,
        })
        .collect())
}

async fn finish_batch(conn: &mut PgConnection, attempts: &[&EndedAttempt]) -> sqlx::Result<Vec<bool>> {
    let columns = outbox::FinishColumns::of(attempts, |finish| match finish {
        Finish::Delivered { .. } => "delivered",
        Finish::Retry { .. } => "queued",
        Finish::Failed { .. } => "failed",
    });
    let fenced: Vec<i64> = sqlx::query_scalar!(
        r#"WITH ended AS (
               SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::float8[], $5::text[],
                                    $6::int4[], $7::float8[], $8::int4[], $9::int2[], $10::text[])
                   WITH ORDINALITY AS e(id, lease_token, status, retry_after, error,
                                        attempt, started_ms, duration_ms, http_status, outcome, position)
           ), finished AS (
               UPDATE infobip_reports r
               SET status = e.status,
                   delivered_at = CASE WHEN e.status = 'delivered' THEN now() END,
                   next_attempt_at = now() + make_interval(secs => e.retry_after),
                   lease_token = NULL,
                   last_error = e.error
               FROM ended e
               WHERE r.id = e.id AND r.lease_token = e.lease_token
               RETURNING e.position
           ), logged AS (
               INSERT INTO infobip_report_attempts (report_id, attempt, started_at, duration_ms, http_status, outcome, error)
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

async fn release(pool: &PgPool, unstarted: &[ClaimedReport]) -> sqlx::Result<u64> {
    let ids: Vec<Uuid> = unstarted.iter().map(|r| r.id).collect();
    let tokens: Vec<Uuid> = unstarted.iter().map(|r| r.lease_token).collect();
    let released = sqlx::query!(
        "UPDATE infobip_reports r
         SET attempts = r.attempts - 1, lease_token = NULL, next_attempt_at = now()
         FROM unnest($1::uuid[], $2::uuid[]) AS claimed(id, lease_token)
         WHERE r.id = claimed.id AND r.lease_token = claimed.lease_token",
        &ids,
        &tokens,
    )
    .execute(pool)
    .await?;
    Ok(released.rows_affected())
}

/// Sends a report as Infobip does: a POST of its body, typed as the launch asked.
pub struct ReportPost {
    client: reqwest::Client,
}

impl ReportPost {
    pub fn new(client: reqwest::Client) -> Self {
        Self { client }
    }
}

impl Deliver<ClaimedReport> for ReportPost {
    fn name(&self) -> &'static str {
        "http"
    }

    async fn deliver(&self, report: &ClaimedReport) -> Delivery {
        let request = self
            .client
            .post(&report.url)
            .header(reqwest::header::CONTENT_TYPE, &report.content_type)
            .body(report.payload.clone());
        match request.send().await {
            Ok(response) if response.status().is_success() => Delivery::Delivered {
                provider_message_id: None,
                http_status: Some(response.status().as_u16()),
            },
            Ok(response) => {
                let (status, headers) = (response.status(), response.headers().clone());
                let body = response.text().await.unwrap_or_default();
                from_response_status(status, &headers, &snippet(&body))
            }
            Err(error) => from_request_error(&error),
        }
    }
}

/// Up to `limit` reports of the account never pulled, oldest first, marked
/// pulled in the same statement: each is handed out once, even to pulls
/// racing (the second's insert of a report conflicts and returns nothing).
pub async fn pull(
    pool: &PgPool,
    account_id: i64,
    bulk_id: Option<&str>,
    message_id: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<serde_json::Value>> {
    let rows = sqlx::query!(
        r#"WITH next AS (
               SELECT r.id, r.created_at, r.report FROM infobip_reports r
               WHERE r.account_id = $1
                 AND ($2::text IS NULL OR r.bulk_id = $2) AND ($3::text IS NULL OR r.message_id = $3)
                 AND NOT EXISTS (SELECT 1 FROM infobip_report_pulls p WHERE p.report_id = r.id)
               ORDER BY r.created_at, r.id
               LIMIT $4
           ), pulled AS (
               INSERT INTO infobip_report_pulls (report_id) SELECT id FROM next
               ON CONFLICT DO NOTHING
               RETURNING report_id
           )
           SELECT n.report AS "report!" FROM next n JOIN pulled p ON p.report_id = n.id
           ORDER BY n.created_at, n.id"#,
        account_id,
        bulk_id,
        message_id,
        limit,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|row| row.report).collect())
}

/// A launch as `/admin/infobip/launches` lists it.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct LaunchItem {
    pub bulk_id: String,
    pub account: String,
    pub created_at: DateTime<Utc>,
    pub calls: i64,
    pub pending: i64,
    pub delivered: i64,
    pub undeliverable: i64,
    pub expired: i64,
    pub rejected: i64,
    pub reports_delivered: i64,
}

pub async fn launches(pool: &PgPool, bulk_id: Option<&str>, limit: i64) -> sqlx::Result<Vec<LaunchItem>> {
    sqlx::query_as!(
        LaunchItem,
        r#"SELECT l.bulk_id, a.username AS account, l.created_at,
                  count(c.id) AS "calls!",
                  count(c.id) FILTER (WHERE c.status = 'pending') AS "pending!",
                  count(c.id) FILTER (WHERE c.status = 'delivered') AS "delivered!",
                  count(c.id) FILTER (WHERE c.status = 'undeliverable') AS "undeliverable!",
                  count(c.id) FILTER (WHERE c.status = 'expired') AS "expired!",
                  count(c.id) FILTER (WHERE c.status = 'rejected') AS "rejected!",
                  (SELECT count(*) FROM infobip_reports r
                   WHERE r.account_id = l.account_id AND r.bulk_id = l.bulk_id AND r.status = 'delivered') AS "reports_delivered!"
           FROM infobip_launches l
           JOIN infobip_accounts a ON a.id = l.account_id
           LEFT JOIN infobip_calls c ON c.account_id = l.account_id AND c.bulk_id = l.bulk_id
           WHERE $1::text IS NULL OR l.bulk_id = $1
           GROUP BY l.account_id, l.bulk_id, l.created_at, a.username
           ORDER BY l.created_at DESC
           LIMIT $2"#,
        bulk_id,
        limit,
    )
    .fetch_all(pool)
    .await
}

/// A call as `/admin/infobip/calls` lists it.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CallItem {
    pub id: i64,
    pub bulk_id: String,
    pub message_id: String,
    pub to: String,
    pub status: String,
    pub attempts: i32,
    /// On the emulator's clock.
    pub due_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub transcript: Option<serde_json::Value>,
}

pub async fn calls(
    pool: &PgPool,
    bulk_id: Option<&str>,
    status: Option<&str>,
    after: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<CallItem>> {
    sqlx::query_as!(
        CallItem,
        r#"SELECT id, bulk_id, message_id, to_number AS "to", status, attempts, due_at, sent_at, last_error, transcript
           FROM infobip_calls
           WHERE ($1::text IS NULL OR bulk_id = $1) AND ($2::text IS NULL OR status = $2) AND id > $3
           ORDER BY id
           LIMIT $4"#,
        bulk_id,
        status,
        after.unwrap_or(0),
        limit,
    )
    .fetch_all(pool)
    .await
}

/// A report as `/admin/infobip/reports` lists it.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ReportItem {
    pub id: Uuid,
    pub bulk_id: String,
    pub message_id: String,
    /// `queued`, `delivered`, `failed`, or `unsent` (no notifyUrl).
    pub status: String,
    pub url: Option<String>,
    pub content_type: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub pulled_at: Option<DateTime<Utc>>,
    #[schema(value_type = Object)]
    pub report: serde_json::Value,
}

pub async fn reports(
    pool: &PgPool,
    bulk_id: Option<&str>,
    status: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<ReportItem>> {
    sqlx::query_as!(
        ReportItem,
        r#"SELECT r.id, r.bulk_id, r.message_id, r.status, r.url, r.content_type, r.attempts, r.last_error, r.created_at,
                  r.delivered_at, p.pulled_at AS "pulled_at?", r.report
           FROM infobip_reports r LEFT JOIN infobip_report_pulls p ON p.report_id = r.id
           WHERE ($1::text IS NULL OR r.bulk_id = $1) AND ($2::text IS NULL OR r.status = $2)
           ORDER BY r.created_at, r.id
           LIMIT $3"#,
        bulk_id,
        status,
        limit,
    )
    .fetch_all(pool)
    .await
}
