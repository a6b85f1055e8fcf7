//! Deleting what is older than the retention age.

use std::time::Duration;

use sqlx::PgPool;

/// Rows deleted by one pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub calls: u64,
    pub sms: u64,
    pub cooldowns: u64,
}

/// Rows per DELETE: short statements keep locks and WAL bursts small.
const BATCH: i64 = 5_000;

/// Deletes journal rows and delivered SMS created before `now - age`, and
/// cool-down marks that are past both the age and the cool-down. Failed SMS
/// stay (an operator may re-queue them), queued ones are never touched.
/// Returns `None` when another replica holds the pruning lock.
pub async fn prune(pool: &PgPool, age: Duration, cooldown: Duration) -> sqlx::Result<Option<Pruned>> {
    let mut conn = pool.acquire().await?;
    let locked = sqlx::query_scalar!(r#"SELECT pg_try_advisory_lock(hashtext('ivr-gateway retention')) AS "locked!""#)
        .fetch_one(&mut *conn)
        .await?;
    if !locked {
        return Ok(None);
    }
    let pruned = prune_locked(&mut conn, age.as_secs_f64(), cooldown.as_secs_f64()).await;
    sqlx::query_scalar!("SELECT pg_advisory_unlock(hashtext('ivr-gateway retention'))")
        .fetch_one(&mut *conn)
        .await?;
    pruned.map(Some)
}

async fn prune_locked(conn: &mut sqlx::PgConnection, age: f64, cooldown: f64) -> sqlx::Result<Pruned> {
    let mut pruned = Pruned::default();
    loop {
        let deleted = sqlx::query!(
            "DELETE FROM calls WHERE id IN (
                 SELECT id FROM calls WHERE created_at < now() - make_interval(secs => $1) LIMIT $2)",
            age,
            BATCH
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
        pruned.calls += deleted;
        if deleted < BATCH as u64 {
            break;
        }
    }
    loop {
        let deleted = sqlx::query!(
            "DELETE FROM sms_outbox WHERE id IN (
                 SELECT id FROM sms_outbox
                 WHERE status = 'delivered' AND created_at < now() - make_interval(secs => $1) LIMIT $2)",
            age,
            BATCH
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
        pruned.sms += deleted;
        if deleted < BATCH as u64 {
            break;
        }
    }
    pruned.cooldowns = sqlx::query!(
        "DELETE FROM welcome_cooldowns
         WHERE sent_at < now() - make_interval(secs => $1) AND sent_at < now() - make_interval(secs => $2)",
        age,
        cooldown
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(pruned)
}
