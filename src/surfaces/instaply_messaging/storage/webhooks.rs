//! An organization's webhooks and its legacy hook: SQL only.

use sqlx::PgPool;

use crate::surfaces::instaply_messaging::domain::{EventKind, ExtraHeader};

/// A webhook as the API reads it back.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    pub enabled: bool,
    pub subscribed_events: Vec<String>,
    pub extra_headers: Vec<ExtraHeader>,
}

struct Row {
    id: i64,
    url: String,
    enabled: bool,
    subscribed_events: Vec<String>,
    extra_headers: serde_json::Value,
}

impl From<Row> for Webhook {
    fn from(row: Row) -> Self {
        Self {
            id: row.id,
            url: row.url,
            enabled: row.enabled,
            subscribed_events: row.subscribed_events,
            // Written by this module from validated headers only.
            extra_headers: serde_json::from_value(row.extra_headers).unwrap_or_default(),
        }
    }
}

/// A webhook's fields, each optional for an update.
#[derive(Clone, Debug, Default)]
pub struct WebhookFields {
    pub url: Option<String>,
    pub enabled: Option<bool>,
    pub subscribed_events: Option<Vec<EventKind>>,
    pub extra_headers: Option<Vec<ExtraHeader>>,
}

fn events(kinds: &Option<Vec<EventKind>>) -> Option<Vec<String>> {
    kinds
        .as_ref()
        .map(|kinds| kinds.iter().map(|kind| kind.as_str().to_owned()).collect())
}

fn headers(headers: &Option<Vec<ExtraHeader>>) -> Option<serde_json::Value> {
    headers
        .as_ref()
        .map(|headers| serde_json::to_value(headers).expect("headers always serialise"))
}

/// Creates a webhook; `url` and `subscribed_events` must be set.
pub async fn create(pool: &PgPool, organization_id: i64, fields: &WebhookFields) -> sqlx::Result<Webhook> {
    let (events, headers) = (events(&fields.subscribed_events), headers(&fields.extra_headers));
    sqlx::query_as!(
        Row,
        "INSERT INTO messaging_webhooks (organization_id, url, enabled, subscribed_events, extra_headers)
         VALUES ($1, $2, coalesce($3, true), $4, coalesce($5, '[]'::jsonb))
         RETURNING id, url, enabled, subscribed_events, extra_headers",
        organization_id,
        fields.url,
        fields.enabled,
        events.as_deref(),
        headers,
    )
    .fetch_one(pool)
    .await
    .map(Webhook::from)
}

pub async fn list(pool: &PgPool, organization_id: i64) -> sqlx::Result<Vec<Webhook>> {
    let rows = sqlx::query_as!(
        Row,
        "SELECT id, url, enabled, subscribed_events, extra_headers FROM messaging_webhooks
         WHERE organization_id = $1 ORDER BY id",
        organization_id,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Webhook::from).collect())
}

pub async fn get(pool: &PgPool, organization_id: i64, id: i64) -> sqlx::Result<Option<Webhook>> {
    let row = sqlx::query_as!(
        Row,
        "SELECT id, url, enabled, subscribed_events, extra_headers FROM messaging_webhooks
         WHERE organization_id = $1 AND id = $2",
        organization_id,
        id,
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(Webhook::from))
}

/// Changes the given fields only.
pub async fn update(
    pool: &PgPool,
    organization_id: i64,
    id: i64,
    fields: &WebhookFields,
) -> sqlx::Result<Option<Webhook>> {
    let (events, headers) = (events(&fields.subscribed_events), headers(&fields.extra_headers));
    let row = sqlx::query_as!(
        Row,
        "UPDATE messaging_webhooks SET url = coalesce($3, url), enabled = coalesce($4, enabled),
             subscribed_events = coalesce($5, subscribed_events), extra_headers = coalesce($6, extra_headers)
         WHERE organization_id = $1 AND id = $2
         RETURNING id, url, enabled, subscribed_events, extra_headers",
        organization_id,
        id,
        fields.url,
        fields.enabled,
        events.as_deref(),
        headers,
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(Webhook::from))
}

pub async fn delete(pool: &PgPool, organization_id: i64, id: i64) -> sqlx::Result<Option<Webhook>> {
    let row = sqlx::query_as!(
        Row,
        "DELETE FROM messaging_webhooks WHERE organization_id = $1 AND id = $2
         RETURNING id, url, enabled, subscribed_events, extra_headers",
        organization_id,
        id,
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(Webhook::from))
}

/// Sets (or, with `None`, removes) the organization's legacy hook.
pub async fn set_legacy_hook(pool: &PgPool, organization_id: i64, url: Option<&str>) -> sqlx::Result<()> {
    match url {
        Some(url) => {
            sqlx::query!(
                "INSERT INTO legacy_hooks (organization_id, url) VALUES ($1, $2)
                 ON CONFLICT (organization_id) DO UPDATE SET url = EXCLUDED.url",
                organization_id,
                url,
            )
            .execute(pool)
            .await?
        }
        None => {
            sqlx::query!("DELETE FROM legacy_hooks WHERE organization_id = $1", organization_id)
                .execute(pool)
                .await?
        }
    };
    Ok(())
}
