//! The welcome SMS the IVR hook queued, mirrored into their callers' SMS
//! threads. The hook's own statement only adds each SMS id to
//! `welcome_mirror_queue` (a trigger); this drains it, so the hook's hot
//! path never writes a thread.

use sqlx::PgPool;
use uuid::Uuid;

use super::messages::{self, Business, Sender};
use crate::surfaces::instaply_messaging::domain::Channel;

/// Mirrors up to `limit` queued welcome SMS, each with its `messages`
/// events, in one transaction; replicas take disjoint batches. Returns how
/// many were taken from the queue.
pub async fn mirror_batch(pool: &PgPool, limit: i64) -> sqlx::Result<usize> {
    let mut tx = pool.begin().await?;
    let rows = sqlx::query!(
        r#"WITH taken AS (
               DELETE FROM welcome_mirror_queue q
               WHERE q.sms_id IN (SELECT sms_id FROM welcome_mirror_queue LIMIT $1 FOR UPDATE SKIP LOCKED)
               RETURNING q.sms_id
           )
           SELECT taken.sms_id AS "sms_id!", s.store_id, s.to_number::text AS "caller!", s.body
           FROM taken JOIN sms_outbox s ON s.id = taken.sms_id
           ORDER BY s.created_at, s.id"#,
        limit,
    )
    .fetch_all(&mut *tx)
    .await?;
    let taken = rows.len();
    for row in rows {
        // A store deleted since the call has no thread to write to.
        let Some(store_id) = row.store_id else { continue };
        mirror_one(&mut tx, row.sms_id, store_id, &row.caller, &row.body).await?;
    }
    tx.commit().await?;
    Ok(taken)
}

async fn mirror_one(
    tx: &mut sqlx::PgConnection,
    sms_id: Uuid,
    store_id: i64,
    caller: &str,
    body: &str,
) -> sqlx::Result<()> {
    let Some(thread) = messages::customer_thread(tx, Business::Store(store_id), caller, Channel::Sms).await? else {
        return Ok(());
    };
    let facts = messages::insert(tx, thread.thread_id, Sender::Welcome { sms_id }, body, None, false).await?;
    messages::queue_message_events(tx, &[&facts]).await?;
    Ok(())
}
