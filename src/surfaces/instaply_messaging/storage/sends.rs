//! Bot API sends, group-committed: every send of a batch is checked (the
//! user sees the thread, the template exists, the WhatsApp window is open)
//! and written by one statement, and their events queued by a second, in
//! one transaction; each send gets its own outcome. A commit per batch
//! instead of one per send is what lets one thread take thousands of sends
//! a second.

use sqlx::PgConnection;

use super::messages::queue_message_events;
use crate::platform::group_commit::BatchStatement;
use crate::surfaces::instaply_messaging::envelopes::MessageFacts;

/// A send the route has parsed; exactly one of `text` and `content_sid`.
#[derive(Clone, Debug)]
pub struct NewSend {
    pub user_id: i64,
    pub thread_id: i64,
    pub text: Option<String>,
    pub content_sid: Option<String>,
    pub internal: bool,
}

/// How one send fared.
#[derive(Clone, Debug)]
pub enum SendOutcome {
    Sent(MessageFacts),
    /// No such thread, or the user cannot see it (one answer for both).
    Hidden,
    NoTemplate,
    WindowClosed,
}

/// The sends' batch statement.
pub struct SendMessages;

impl BatchStatement for SendMessages {
    type Item = NewSend;
    type Output = SendOutcome;
    const NAME: &'static str = "bot_send";
    /// A caller answered 503 must not find its message sent anyway.
    const UNDONE_WHEN_ABANDONED: bool = true;

    fn write(
        &self,
        conn: &mut PgConnection,
        items: &[&NewSend],
    ) -> impl Future<Output = sqlx::Result<Vec<SendOutcome>>> + Send {
        write(conn, items)
    }
}

async fn write(conn: &mut PgConnection, items: &[&NewSend]) -> sqlx::Result<Vec<SendOutcome>> {
    let users: Vec<i64> = items.iter().map(|s| s.user_id).collect();
    let threads: Vec<i64> = items.iter().map(|s| s.thread_id).collect();
    let texts: Vec<Option<&str>> = items.iter().map(|s| s.text.as_deref()).collect();
    let sids: Vec<Option<&str>> = items.iter().map(|s| s.content_sid.as_deref()).collect();
    let internals: Vec<bool> = items.iter().map(|s| s.internal).collect();
    let rows = sqlx::query!(
        r#"WITH input AS (
               SELECT * FROM unnest($1::int8[], $2::int8[], $3::text[], $4::text[], $5::bool[])
                   WITH ORDINALITY AS i(user_id, thread_id, text, content_sid, internal, position)
           ), decided AS (
               SELECT i.position, i.user_id, i.thread_id, i.content_sid, i.internal,
                      t.organization_id, t.store_id, t.customer_id, t.channel, c.customer_type,
                      coalesce(i.text, tpl.text) AS body,
                      CASE WHEN t.id IS NULL OR NOT EXISTS (SELECT 1 FROM messaging_memberships m
                                                            WHERE m.user_id = i.user_id AND m.store_id = t.store_id)
                               THEN 'hidden'
                           WHEN i.content_sid IS NOT NULL AND tpl.text IS NULL THEN 'no_template'
                           WHEN i.text IS NOT NULL AND NOT i.internal AND t.channel = 'WHATSAPP'
                                AND NOT coalesce(t.last_customer_message_at > now() - interval '24 hours', false)
                               THEN 'window_closed'
                           ELSE 'sent' END AS verdict
               FROM input i
               LEFT JOIN customer_threads t ON t.id = i.thread_id
               LEFT JOIN customers c ON c.id = t.customer_id
               LEFT JOIN whatsapp_templates tpl ON tpl.organization_id = t.organization_id AND tpl.content_sid = i.content_sid
           ), numbered AS (
               -- Ids drawn here, so that each inserted message maps back to its send.
               SELECT d.*, CASE WHEN d.verdict = 'sent' THEN nextval(pg_get_serial_sequence('messages', 'id')) END AS message_id
               FROM decided d
           ), inserted AS (
               INSERT INTO messages (id, thread_id, sender, user_id, body, content_sid, internal)
               OVERRIDING SYSTEM VALUE
               SELECT message_id, thread_id, 'employee', user_id, body, content_sid, internal
               FROM numbered WHERE verdict = 'sent' ORDER BY position
               RETURNING id, created_at
           ), moved AS (
               -- Only threads whose status changes are locked, in id order.
               UPDATE customer_threads t SET status = 'replied'
               FROM (SELECT DISTINCT thread_id FROM numbered WHERE verdict = 'sent' AND NOT internal ORDER BY thread_id) s
               WHERE t.id = s.thread_id AND t.status <> 'replied'
           )
           SELECT n.verdict AS "verdict!", n.message_id, (extract(epoch FROM i.created_at) * 1000)::int8 AS created_at_ms,
                  n.organization_id AS "organization_id?", n.store_id AS "store_id?", n.customer_id AS "customer_id?",
                  n.customer_type AS "customer_type?", n.channel AS "channel?", n.body, n.thread_id AS "thread_id!",
                  n.user_id AS "user_id!", n.internal AS "internal!"
           FROM numbered n LEFT JOIN inserted i ON i.id = n.message_id
           ORDER BY n.position"#,
        &users,
        &threads,
        &texts as &[Option<&str>],
        &sids as &[Option<&str>],
        &internals,
    )
    .fetch_all(&mut *conn)
    .await?;
    let outcomes: Vec<SendOutcome> = rows
        .into_iter()
        .map(|row| match row.verdict.as_str() {
            "sent" => SendOutcome::Sent(MessageFacts {
                message_id: row.message_id.unwrap_or_default(),
                thread_id: row.thread_id,
                organization_id: row.organization_id.unwrap_or_default(),
                business_id: row.store_id.unwrap_or_default(),
                customer_id: row.customer_id.unwrap_or_default(),
                customer_type: row.customer_type.unwrap_or_default(),
                channel: row.channel.unwrap_or_default(),
                from_customer: false,
                internal: row.internal,
                employee_user_id: Some(row.user_id),
                body: row.body.unwrap_or_default(),
                created_at_ms: row.created_at_ms.unwrap_or_default(),
            }),
            "no_template" => SendOutcome::NoTemplate,
            "window_closed" => SendOutcome::WindowClosed,
            _ => SendOutcome::Hidden,
        })
        .collect();
    let sent: Vec<&MessageFacts> = outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            SendOutcome::Sent(facts) => Some(facts),
            _ => None,
        })
        .collect();
    queue_message_events(conn, &sent).await?;
    Ok(outcomes)
}
