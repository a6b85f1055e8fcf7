//! Writing messages and transfers, and queueing their events in the same
//! transaction: a committed message always has its deliveries queued.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::surfaces::instaply_messaging::domain::Channel;
use crate::surfaces::instaply_messaging::envelopes::{MessageFacts, TransferFacts};

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sender {
    Customer,
    /// An employee or a bot, through the Bot API.
    Employee {
        user_id: i64,
    },
    /// The IVR hook's welcome SMS, from the business.
    Welcome {
        sms_id: Uuid,
    },
}

impl Sender {
    fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Employee { .. } => "employee",
            Self::Welcome { .. } => "welcome",
        }
    }
}

/// Writes a message to `thread_id` and moves the thread along (the
/// concurrent sends of one thread keep every message; the last status wins): a customer's
/// message opens the WhatsApp window and makes the thread `waiting`; a
/// visible answer makes it `replied`; an internal note leaves it as it is.
pub async fn insert(
    conn: &mut PgConnection,
    thread_id: i64,
    sender: Sender,
    body: &str,
    content_sid: Option<&str>,
    internal: bool,
) -> sqlx::Result<MessageFacts> {
    let (user_id, sms_id) = match sender {
        Sender::Employee { user_id } => (Some(user_id), None),
        Sender::Welcome { sms_id } => (None, Some(sms_id)),
        Sender::Customer => (None, None),
    };
    let from_customer = sender == Sender::Customer;
    let row = sqlx::query!(
        r#"WITH message AS (
               INSERT INTO messages (thread_id, sender, user_id, body, content_sid, internal, sms_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               RETURNING id, created_at
           ), thread AS (
               SELECT t.organization_id, t.store_id, t.customer_id, t.channel FROM customer_threads t WHERE t.id = $1
           ), moved AS (
               -- Only a change takes the thread's row lock: answers to a thread that is
               -- already `replied` (a bot's usual case) do not queue behind each other.
               UPDATE customer_threads t
               SET status = CASE WHEN $8 THEN 'waiting' ELSE 'replied' END,
                   last_customer_message_at = CASE WHEN $8 THEN now() ELSE t.last_customer_message_at END
               WHERE t.id = $1 AND ($8 OR (NOT $6 AND t.status <> 'replied'))
           )
           SELECT message.id AS "id!", (extract(epoch FROM message.created_at) * 1000)::int8 AS "created_at_ms!",
                  thread.organization_id AS "organization_id!", thread.store_id AS "store_id!",
                  thread.customer_id AS "customer_id!", thread.channel AS "channel!", c.customer_type
           FROM message, thread JOIN customers c ON c.id = thread.customer_id"#,
        thread_id,
        sender.as_str(),
        user_id,
        body,
        content_sid,
        internal,
        sms_id,
        from_customer,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(MessageFacts {
        message_id: row.id,
        thread_id,
        organization_id: row.organization_id,
        business_id: row.store_id,
        customer_id: row.customer_id,
        customer_type: row.customer_type,
        channel: row.channel,
        from_customer,
        internal,
        employee_user_id: user_id,
        body: body.to_owned(),
        created_at_ms: row.created_at_ms,
    })
}

/// Queues the `messages` event of each message for every enabled webhook of
/// its organization subscribed to messages (with each webhook's headers as
/// they are now), and the flat payload for the legacy hook unless the
/// message is internal; one statement for all of them. Returns how many
/// deliveries were queued.
pub async fn queue_message_events(conn: &mut PgConnection, messages: &[&MessageFacts]) -> sqlx::Result<u64> {
    if messages.is_empty() {
        return Ok(0);
    }
    let now_ms = chrono::Utc::now().timestamp_millis();
    let organizations: Vec<i64> = messages.iter().map(|m| m.organization_id).collect();
    let ids: Vec<i64> = messages.iter().map(|m| m.message_id).collect();
    let threads: Vec<i64> = messages.iter().map(|m| m.thread_id).collect();
    let payloads: Vec<String> = messages.iter().map(|m| m.webhook_payload(now_ms)).collect();
    let legacy: Vec<String> = messages.iter().map(|m| m.legacy_payload()).collect();
    let internal: Vec<bool> = messages.iter().map(|m| m.internal).collect();
    let queued = sqlx::query!(
        r#"WITH event AS (
               SELECT * FROM unnest($1::int8[], $2::int8[], $3::int8[], $4::text[], $5::text[], $6::bool[])
                   AS e(organization_id, message_id, thread_id, payload, legacy, internal)
           )
           INSERT INTO webhook_deliveries (id, organization_id, webhook_id, target, event_type, message_id, thread_id, url, headers, payload)
           SELECT gen_random_uuid(), w.organization_id, w.id, 'webhook', 'messages', e.message_id, e.thread_id, w.url, w.extra_headers, e.payload
           FROM event e JOIN messaging_webhooks w
             ON w.organization_id = e.organization_id AND w.enabled AND 'messages' = ANY (w.subscribed_events)
           UNION ALL
           SELECT gen_random_uuid(), l.organization_id, NULL, 'legacy', 'messages', e.message_id, e.thread_id, l.url, '[]'::jsonb, e.legacy
           FROM event e JOIN legacy_hooks l ON l.organization_id = e.organization_id
           WHERE NOT e.internal"#,
        &organizations,
        &ids,
        &threads,
        &payloads,
        &legacy,
        &internal,
    )
    .execute(conn)
    .await?;
    Ok(queued.rows_affected())
}

/// Queues the `transfers` event for every enabled webhook subscribed to it.
pub async fn queue_transfer_events(conn: &mut PgConnection, facts: &TransferFacts) -> sqlx::Result<u64> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let queued = sqlx::query!(
        r#"INSERT INTO webhook_deliveries (id, organization_id, webhook_id, target, event_type, thread_id, url, headers, payload)
           SELECT gen_random_uuid(), w.organization_id, w.id, 'webhook', 'transfers', $2, w.url, w.extra_headers, $3
           FROM messaging_webhooks w
           WHERE w.organization_id = $1 AND w.enabled AND 'transfers' = ANY (w.subscribed_events)"#,
        facts.organization_id,
        facts.thread_id,
        facts.webhook_payload(now_ms),
    )
    .execute(conn)
    .await?;
    Ok(queued.rows_affected())
}

/// The customer's thread with a business, created (with the customer) if new.
#[derive(Clone, Debug)]
pub struct CustomerThread {
    pub thread_id: i64,
    pub customer_id: String,
}

/// Which business a customer writes to.
#[derive(Clone, Copy, Debug)]
pub enum Business<'a> {
    /// The store behind this business number.
    Number(&'a str),
    /// This store (the welcome SMS keeps the store it was sent for).
    Store(i64),
}

/// `None` when there is no such business.
pub async fn customer_thread(
    conn: &mut PgConnection,
    business: Business<'_>,
    customer_phone: &str,
    channel: Channel,
) -> sqlx::Result<Option<CustomerThread>> {
    let (number, store_id) = match business {
        Business::Number(number) => (Some(number), None),
        Business::Store(id) => (None, Some(id)),
    };
    sqlx::query_as!(
        CustomerThread,
        r#"WITH store AS (
               SELECT s.id, s.organization_id FROM stores s
               WHERE s.id = coalesce($4, (SELECT b.store_id FROM business_numbers b WHERE b.phone = $1::text::e164))
           ), customer AS (
               INSERT INTO customers (organization_id, phone)
               SELECT organization_id, $2 FROM store
               ON CONFLICT (organization_id, phone) DO UPDATE SET phone = EXCLUDED.phone
               RETURNING id
           ), thread AS (
               INSERT INTO customer_threads (organization_id, store_id, customer_id, channel)
               SELECT store.organization_id, store.id, customer.id, $3 FROM store, customer
               ON CONFLICT (store_id, customer_id) DO UPDATE SET channel = customer_threads.channel
               RETURNING id, customer_id
           )
           SELECT id AS "thread_id!", customer_id AS "customer_id!" FROM thread"#,
        number,
        customer_phone,
        channel.as_str(),
        store_id,
    )
    .fetch_optional(conn)
    .await
}

/// Why a transfer was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum TransferRefused {
    UnknownThread,
    /// No store of the thread's organization has that number.
    UnknownBusiness,
    SameBusiness,
    /// The customer already has a thread with that business.
    AlreadyThere,
}

/// Moves a thread to the business behind `business_number` (same organization).
pub async fn transfer(
    conn: &mut PgConnection,
    thread_id: i64,
    business_number: &str,
) -> sqlx::Result<Result<TransferFacts, TransferRefused>> {
    let Some(thread) = sqlx::query!(
        "SELECT organization_id, store_id, customer_id FROM customer_threads WHERE id = $1 FOR UPDATE",
        thread_id
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(Err(TransferRefused::UnknownThread));
    };
    let Some(store_id) = sqlx::query_scalar!(
        "SELECT s.id FROM business_numbers b JOIN stores s ON s.id = b.store_id
         WHERE b.phone = $1::text::e164 AND s.organization_id = $2",
        business_number,
        thread.organization_id,
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(Err(TransferRefused::UnknownBusiness));
    };
    if store_id == thread.store_id {
        return Ok(Err(TransferRefused::SameBusiness));
    }
    let moved = sqlx::query_scalar!(
        r#"UPDATE customer_threads SET store_id = $2 WHERE id = $1
           AND NOT EXISTS (SELECT 1 FROM customer_threads o WHERE o.store_id = $2 AND o.customer_id = $3)
           RETURNING (extract(epoch FROM now()) * 1000)::int8 AS "at_ms!""#,
        thread_id,
        store_id,
        thread.customer_id,
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(at_ms) = moved else {
        return Ok(Err(TransferRefused::AlreadyThere));
    };
    Ok(Ok(TransferFacts {
        thread_id,
        organization_id: thread.organization_id,
        previous_business_id: thread.store_id,
        business_id: store_id,
        customer_id: thread.customer_id,
        at_ms,
    }))
}
