//! Group commit: request handlers hand their journal row (and welcome SMS)
//! to a writer that commits whatever has gathered as one statement, and each
//! handler answers only once its batch is committed. A commit waits for a
//! WAL flush, so one commit per request caps the hook at the disk's flush
//! rate; one commit per batch does not.
//!
//! While every commit slot is busy, new calls queue; the next free slot takes
//! them all (up to [`MAX_BATCH`]). Under light load a batch is a single call
//! and adds no latency.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::error::ErrorKind;
use sqlx::postgres::PgPoolOptions;
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::db::calls::{self, NewCall, WelcomeOutcome};

/// Calls per statement: past a few hundred, a bigger batch only delays its first caller.
pub const MAX_BATCH: usize = 512;
/// Batches committing at once. More than one keeps the database busy while a
/// batch's answers travel back; a few is enough on a connection pool's scale.
const COMMIT_SLOTS: usize = 4;
/// Attempts for a batch that lost a deadlock or serialization race.
const ATTEMPTS: usize = 3;

/// Why a call could not be journaled: the database failed, nothing was recorded.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{0}")]
pub struct WriteFailed(Arc<str>);

impl From<&sqlx::Error> for WriteFailed {
    fn from(error: &sqlx::Error) -> Self {
        Self(error.to_string().into())
    }
}

struct Pending {
    call: NewCall,
    done: oneshot::Sender<Result<WelcomeOutcome, WriteFailed>>,
}

/// A handle on the writer; cheap to clone, shared by every HTTP worker.
#[derive(Clone)]
pub struct CallWriter {
    queue: mpsc::Sender<Pending>,
}

impl CallWriter {
    /// Starts the writer on connections of its own (one per commit slot),
    /// opened like `pool`'s; must be called inside the Tokio runtime. It
    /// stops once every handle is dropped and what they queued is committed.
    pub fn start(pool: &PgPool, cooldown: Duration) -> Self {
        let own = PgPoolOptions::new()
            .max_connections(COMMIT_SLOTS as u32)
            .acquire_timeout(pool.options().get_acquire_timeout())
            // Not tested before use (a round trip per batch): a connection
            // found dead fails its BEGIN, before anything was written, and
            // the batch retries on a fresh one.
            .test_before_acquire(false)
            .connect_lazy_with((*pool.connect_options()).clone());
        let (queue, pending) = mpsc::channel(MAX_BATCH * COMMIT_SLOTS);
        tokio::spawn(gather(own, cooldown, pending));
        Self { queue }
    }

    /// Journals `call` (queuing its welcome SMS) and returns once it is committed.
    pub async fn record(&self, call: NewCall) -> Result<WelcomeOutcome, WriteFailed> {
        let (done, committed) = oneshot::channel();
        let stopped = || WriteFailed("the journal writer has stopped".into());
        self.queue.send(Pending { call, done }).await.map_err(|_| stopped())?;
        committed.await.map_err(|_| stopped())?
    }
}

async fn gather(pool: PgPool, cooldown: Duration, mut pending: mpsc::Receiver<Pending>) {
    let slots = Arc::new(Semaphore::new(COMMIT_SLOTS));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = Vec::new();
        if pending.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            commit(&pool, batch, cooldown).await;
            drop(slot);
        });
    }
}

/// Commits one batch and answers its calls. A batch refused for its data
/// (not for the database being away) is retried call by call, so that one
/// call the database rejects cannot fail the others.
async fn commit(pool: &PgPool, batch: Vec<Pending>, cooldown: Duration) {
    metrics::counter!("ivr_journal_batches_total").increment(1);
    metrics::counter!("ivr_journal_batched_calls_total").increment(batch.len() as u64);
    let calls: Vec<&NewCall> = batch.iter().map(|p| &p.call).collect();
    match write(pool, &calls, cooldown).await {
        Ok(outcomes) => {
            for (pending, outcome) in batch.into_iter().zip(outcomes) {
                let _ = pending.done.send(Ok(outcome));
            }
        }
        Err(error) if batch.len() > 1 && is_about_the_data(&error) => {
            tracing::warn!(%error, calls = batch.len(), "journal batch refused; writing its calls one by one");
            for pending in batch {
                let outcome = write(pool, &[&pending.call], cooldown).await;
                let _ = pending
                    .done
                    .send(outcome.map(|mut o| o.remove(0)).map_err(|e| WriteFailed::from(&e)));
            }
        }
        Err(error) => {
            let failed = WriteFailed::from(&error);
            for pending in batch {
                let _ = pending.done.send(Err(failed.clone()));
            }
        }
    }
}

async fn write(pool: &PgPool, calls: &[&NewCall], cooldown: Duration) -> sqlx::Result<Vec<WelcomeOutcome>> {
    let mut attempt = 1;
    loop {
        // One statement, yet inside a transaction: were it autocommitted, a
        // statement still running when the connection is lost (its caller
        // already answered 503) would commit alone. Without the COMMIT it
        // rolls back.
        let mut tx = begin(pool).await?;
        match calls::record_batch(&mut tx, calls, cooldown).await {
            Ok(outcomes) => return tx.commit().await.map(|()| outcomes),
            Err(error) if attempt < ATTEMPTS && is_lost_race(&error) => attempt += 1,
            Err(error) => return Err(error),
        }
    }
}

/// BEGIN, once more if it fails: the pooled connection may have died since
/// its last use (the database restarted), and nothing was written yet.
async fn begin(pool: &PgPool) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    match pool.begin().await {
        Ok(tx) => Ok(tx),
        Err(_) => pool.begin().await,
    }
}

/// Deadlock or serialization failure: the same statement may succeed now.
fn is_lost_race(error: &sqlx::Error) -> bool {
    matches!(
        error.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("40P01" | "40001")
    )
}

/// The database answered and refused the statement (a constraint, a value),
/// as opposed to being unreachable or timing out.
fn is_about_the_data(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| !matches!(e.kind(), ErrorKind::Other) || e.code().is_some_and(|code| code.starts_with("22")))
}
