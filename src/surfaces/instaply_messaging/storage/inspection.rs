//! What `/admin` shows of the messaging side: threads with their messages,
//! deliveries with their attempts. SQL only.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ThreadItem {
    pub id: i64,
    pub organization_id: i64,
    pub business_id: i64,
    pub business_name: String,
    pub customer_id: String,
    pub customer_phone: Option<String>,
    pub channel: String,
    pub status: String,
    pub window_open: bool,
    pub created_at: DateTime<Utc>,
    pub last_message_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Default)]
pub struct ThreadFilter {
    pub customer_phone: Option<String>,
    pub business_id: Option<i64>,
    pub limit: i64,
}

pub async fn threads(pool: &PgPool, filter: &ThreadFilter) -> sqlx::Result<Vec<ThreadItem>> {
    sqlx::query_as!(
        ThreadItem,
        r#"SELECT t.id, t.organization_id, t.store_id AS business_id, s.name AS business_name, t.customer_id,
                  c.phone::text AS customer_phone, t.channel, t.status,
                  (t.channel <> 'WHATSAPP' OR t.last_customer_message_at > now() - interval '24 hours') AS "window_open!",
                  t.created_at, (SELECT max(m.created_at) FROM messages m WHERE m.thread_id = t.id) AS last_message_at
           FROM customer_threads t JOIN customers c ON c.id = t.customer_id JOIN stores s ON s.id = t.store_id
           WHERE ($1::text IS NULL OR c.phone = $1::text::e164) AND ($2::int8 IS NULL OR t.store_id = $2)
           ORDER BY t.id DESC LIMIT $3"#,
        filter.customer_phone,
        filter.business_id,
        filter.limit,
    )
    .fetch_all(pool)
    .await
}

pub async fn thread(pool: &PgPool, id: i64) -> sqlx::Result<Option<ThreadItem>> {
    sqlx::query_as!(
        ThreadItem,
        r#"SELECT t.id, t.organization_id, t.store_id AS business_id, s.name AS business_name, t.customer_id,
                  c.phone::text AS customer_phone, t.channel, t.status,
                  (t.channel <> 'WHATSAPP' OR t.last_customer_message_at > now() - interval '24 hours') AS "window_open!",
                  t.created_at, (SELECT max(m.created_at) FROM messages m WHERE m.thread_id = t.id) AS last_message_at
           FROM customer_threads t JOIN customers c ON c.id = t.customer_id JOIN stores s ON s.id = t.store_id
           WHERE t.id = $1"#,
        id,
    )
    .fetch_optional(pool)
    .await
}

#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MessageItem {
    pub id: i64,
    pub thread_id: i64,
    /// `customer`, `employee` (Bot API) or `welcome` (the IVR hook's SMS).
    pub sender: String,
    pub user_id: Option<i64>,
    pub body: String,
    pub content_sid: Option<String>,
    pub internal: bool,
    pub sms_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// A thread's messages, oldest first.
pub async fn messages(pool: &PgPool, thread_id: i64) -> sqlx::Result<Vec<MessageItem>> {
    sqlx::query_as!(
        MessageItem,
        "SELECT id, thread_id, sender, user_id, body, content_sid, internal, sms_id, created_at
         FROM messages WHERE thread_id = $1 ORDER BY id",
        thread_id,
    )
    .fetch_all(pool)
    .await
}

pub async fn message(pool: &PgPool, id: i64) -> sqlx::Result<Option<MessageItem>> {
    sqlx::query_as!(
        MessageItem,
        "SELECT id, thread_id, sender, user_id, body, content_sid, internal, sms_id, created_at FROM messages WHERE id = $1",
        id,
    )
    .fetch_optional(pool)
    .await
}

#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct AttemptItem {
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    pub http_status: Option<i16>,
    pub outcome: String,
    pub error: Option<String>,
}

#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct DeliveryItem {
    pub id: Uuid,
    /// `webhook` or `legacy`.
    pub target: String,
    pub webhook_id: Option<i64>,
    pub event_type: String,
    pub message_id: Option<i64>,
    pub thread_id: Option<i64>,
    pub url: String,
    /// The names of the headers sent; values are not shown (they are often credentials).
    pub header_names: Vec<String>,
    /// The JSON body sent, as sent.
    pub payload: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub attempt_log: Vec<AttemptItem>,
}

#[derive(Clone, Debug, Default)]
pub struct DeliveryFilter {
    pub status: Option<String>,
    pub event_type: Option<String>,
    pub thread_id: Option<i64>,
    pub message_id: Option<i64>,
    pub limit: i64,
}

struct DeliveryRow {
    id: Uuid,
    target: String,
    webhook_id: Option<i64>,
    event_type: String,
    message_id: Option<i64>,
    thread_id: Option<i64>,
    url: String,
    header_names: Vec<String>,
    payload: String,
    status: String,
    attempts: i32,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    delivered_at: Option<DateTime<Utc>>,
}

/// Deliveries, newest first, each with its attempts.
pub async fn deliveries(pool: &PgPool, filter: &DeliveryFilter) -> sqlx::Result<Vec<DeliveryItem>> {
    let rows = sqlx::query_as!(
        DeliveryRow,
        r#"SELECT id, target, webhook_id, event_type, message_id, thread_id, url,
                  ARRAY(SELECT h->>'name' FROM jsonb_array_elements(headers) h) AS "header_names!",
                  payload, status, attempts, last_error, created_at, delivered_at
           FROM webhook_deliveries
           WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR event_type = $2)
             AND ($3::int8 IS NULL OR thread_id = $3) AND ($4::int8 IS NULL OR message_id = $4)
           ORDER BY created_at DESC, id LIMIT $5"#,
        filter.status,
        filter.event_type,
        filter.thread_id,
        filter.message_id,
        filter.limit,
    )
    .fetch_all(pool)
    .await?;
    with_attempts(pool, rows).await
}

pub async fn delivery(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<DeliveryItem>> {
    let rows = sqlx::query_as!(
        DeliveryRow,
        r#"SELECT id, target, webhook_id, event_type, message_id, thread_id, url,
                  ARRAY(SELECT h->>'name' FROM jsonb_array_elements(headers) h) AS "header_names!",
                  payload, status, attempts, last_error, created_at, delivered_at
           FROM webhook_deliveries WHERE id = $1"#,
        id,
    )
    .fetch_all(pool)
    .await?;
    Ok(with_attempts(pool, rows).await?.pop())
}

async fn with_attempts(pool: &PgPool, rows: Vec<DeliveryRow>) -> sqlx::Result<Vec<DeliveryItem>> {
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let attempts = sqlx::query!(
        "SELECT delivery_id, attempt, started_at, duration_ms, http_status, outcome, error
         FROM webhook_delivery_attempts WHERE delivery_id = ANY($1) ORDER BY delivery_id, attempt, id",
        &ids,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| DeliveryItem {
            attempt_log: attempts
                .iter()
                .filter(|a| a.delivery_id == row.id)
                .map(|a| AttemptItem {
                    attempt: a.attempt,
                    started_at: a.started_at,
                    duration_ms: a.duration_ms,
                    http_status: a.http_status,
                    outcome: a.outcome.clone(),
                    error: a.error.clone(),
                })
                .collect(),
            id: row.id,
            target: row.target,
            webhook_id: row.webhook_id,
            event_type: row.event_type,
            message_id: row.message_id,
            thread_id: row.thread_id,
            url: row.url,
            header_names: row.header_names,
            payload: row.payload,
            status: row.status,
            attempts: row.attempts,
            last_error: row.last_error,
            created_at: row.created_at,
            delivered_at: row.delivered_at,
        })
        .collect())
}
