//! Reading the journal and the outbox back, for tests that use the gateway
//! as a double: filtered, newest first, in pages that concurrent inserts
//! cannot shift (keyset pagination).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

/// One journal row as the admin API shows it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct CallItem {
    pub id: i64,
    pub method: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub context: Option<String>,
    pub outcome: String,
    pub status: i16,
    pub sms_id: Option<Uuid>,
    pub sms_skipped: Option<String>,
    pub organization: Option<String>,
    pub store: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// One outbox row as the admin API shows it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct SmsItem {
    pub id: Uuid,
    pub from: String,
    pub to: String,
    pub body: String,
    pub context: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub provider_message_id: Option<String>,
    pub store: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// Filters shared by both listings; `None` matches everything.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub from: Option<String>,
    pub to: Option<String>,
    /// `outcome` for calls, `status` for SMS.
    pub state: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub limit: i64,
}

/// Where the next page starts: just past the last item of this one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cursor {
    Call(i64),
    Sms(DateTime<Utc>, Uuid),
}

impl Cursor {
    pub fn encode(&self) -> String {
        match self {
            Self::Call(id) => id.to_string(),
            Self::Sms(created_at, id) => format!("{}_{id}", created_at.timestamp_micros()),
        }
    }

    pub fn decode_call(text: &str) -> Option<Self> {
        text.parse().ok().filter(|id| *id > 0).map(Self::Call)
    }

    pub fn decode_sms(text: &str) -> Option<Self> {
        let (micros, id) = text.split_once('_')?;
        Some(Self::Sms(
            DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id.parse().ok()?,
        ))
    }
}

/// A page of items and the cursor of the next one, if there is one.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

pub async fn calls(pool: &PgPool, filter: &Filter, after: Option<&Cursor>) -> sqlx::Result<Page<CallItem>> {
    list_calls(pool, filter, after, None).await
}

/// One call by id, as listed.
pub async fn call(pool: &PgPool, id: i64) -> sqlx::Result<Option<CallItem>> {
    let page = list_calls(
        pool,
        &Filter {
            limit: 1,
            ..Filter::default()
        },
        None,
        Some(id),
    )
    .await?;
    Ok(page.items.into_iter().next())
}

async fn list_calls(
    pool: &PgPool,
    filter: &Filter,
    after: Option<&Cursor>,
    only: Option<i64>,
) -> sqlx::Result<Page<CallItem>> {
    let before_id = match after {
        Some(Cursor::Call(id)) => Some(*id),
        _ => None,
    };
    let mut items = sqlx::query_as!(
        CallItem,
        r#"SELECT c.id, c.method, c.from_number AS "from", c.to_number AS "to", c.context, c.outcome,
                  c.http_status AS status, c.sms_id, c.sms_skipped,
                  o.name AS "organization?", s.name AS "store?", c.created_at
           FROM calls c
           LEFT JOIN organizations o ON o.id = c.organization_id
           LEFT JOIN stores s ON s.id = c.store_id
           WHERE ($1::text IS NULL OR c.from_number = $1)
             AND ($2::text IS NULL OR c.to_number = $2)
             AND ($3::text IS NULL OR c.outcome = $3)
             AND ($4::timestamptz IS NULL OR c.created_at >= $4)
             AND ($5::bigint IS NULL OR c.id < $5)
             AND ($7::bigint IS NULL OR c.id = $7)
           ORDER BY c.id DESC
           LIMIT $6"#,
        filter.from,
        filter.to,
        filter.state,
        filter.since,
        before_id,
        filter.limit + 1,
        only,
    )
    .fetch_all(pool)
    .await?;
    let next = page_end(&mut items, filter.limit).map(|last| Cursor::Call(last.id));
    Ok(Page {
        items,
        next_cursor: next.map(|c| c.encode()),
    })
}

pub async fn sms(pool: &PgPool, filter: &Filter, after: Option<&Cursor>) -> sqlx::Result<Page<SmsItem>> {
    list_sms(pool, filter, after, None).await
}

/// One SMS by id, as listed.
pub async fn one_sms(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<SmsItem>> {
    let page = list_sms(
        pool,
        &Filter {
            limit: 1,
            ..Filter::default()
        },
        None,
        Some(id),
    )
    .await?;
    Ok(page.items.into_iter().next())
}

async fn list_sms(
    pool: &PgPool,
    filter: &Filter,
    after: Option<&Cursor>,
    only: Option<Uuid>,
) -> sqlx::Result<Page<SmsItem>> {
    let (before_time, before_id) = match after {
        Some(Cursor::Sms(time, id)) => (Some(*time), Some(*id)),
        _ => (None, None),
    };
    let mut items = sqlx::query_as!(
        SmsItem,
        r#"SELECT m.id, m.from_number::text AS "from!", m.to_number::text AS "to!", m.body, m.context, m.status,
                  m.attempts, m.last_error, m.provider_message_id, s.name AS "store?", m.created_at, m.delivered_at
           FROM sms_outbox m
           LEFT JOIN stores s ON s.id = m.store_id
           WHERE ($1::text IS NULL OR m.from_number = $1)
             AND ($2::text IS NULL OR m.to_number = $2)
             AND ($3::text IS NULL OR m.status = $3)
             AND ($4::timestamptz IS NULL OR m.created_at >= $4)
             AND ($5::timestamptz IS NULL OR (m.created_at, m.id) < ($5, $6))
             AND ($8::uuid IS NULL OR m.id = $8)
           ORDER BY m.created_at DESC, m.id DESC
           LIMIT $7"#,
        filter.from,
        filter.to,
        filter.state,
        filter.since,
        before_time,
        before_id,
        filter.limit + 1,
        only,
    )
    .fetch_all(pool)
    .await?;
    let next = page_end(&mut items, filter.limit).map(|last| Cursor::Sms(last.created_at, last.id));
    Ok(Page {
        items,
        next_cursor: next.map(|c| c.encode()),
    })
}

/// Trims the look-ahead row; returns the last kept item when more follow.
fn page_end<T>(items: &mut Vec<T>, limit: i64) -> Option<&T> {
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    if more { items.last() } else { None }
}

/// Empties the journal and the outbox (and what derives from them: attempts,
/// cool-downs), Infobip launches and their calls and reports, and puts the
/// emulator's clock back to real time; organizations, keys, stores,
/// opt-outs, scenarios and personas stay.
pub async fn reset(pool: &PgPool) -> sqlx::Result<()> {
    sqlx::query!(
        "TRUNCATE calls, sms_attempts, sms_outbox, welcome_cooldowns, welcome_mirror_queue,
                  webhook_delivery_attempts, webhook_deliveries, messages, customer_threads, customers, simulations,
                  infobip_launches, infobip_messages, infobip_calls, infobip_reports, infobip_report_attempts,
                  infobip_report_pulls"
    )
    .execute(pool)
    .await?;
    crate::platform::clock::reset(pool).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let sms = Cursor::Sms(
            DateTime::from_timestamp_micros(1_763_700_000_123_456).unwrap(),
            Uuid::nil(),
        );
        assert_eq!(Cursor::decode_sms(&sms.encode()), Some(sms));
        assert_eq!(Cursor::decode_call("42"), Some(Cursor::Call(42)));
        for garbage in ["", "x", "-1", "0", "1_2", "_", "9999999999999999999_x"] {
            assert_eq!(Cursor::decode_call(garbage), None, "{garbage:?}");
            assert_eq!(Cursor::decode_sms(garbage), None, "{garbage:?}");
        }
    }
}
