//! Group commit: callers hand their rows to a writer that commits whatever has
//! gathered as one statement, and each caller goes on only once its batch is
//! committed. A commit waits for a WAL flush, so one commit per request (or
//! per delivered SMS) caps throughput at the disk's flush rate; one commit
//! per batch does not.
//!
//! While every commit slot is busy, new items queue; the next free slot takes
//! them all (up to [`MAX_BATCH`]). Under light load a batch is a single item
//! and adds no latency.

use std::sync::Arc;
use std::time::Duration;

use sqlx::error::ErrorKind;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgConnection, PgPool};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::db::calls::{self, NewCall, WelcomeOutcome};

/// Items per statement: past a few hundred, a bigger batch only delays its first item.
pub const MAX_BATCH: usize = 512;
/// Attempts for a batch that lost a deadlock or serialization race.
const ATTEMPTS: usize = 3;

/// One statement that writes a whole batch and says how each item fared.
pub trait BatchStatement: Send + Sync + 'static {
    type Item: Send + Sync + 'static;
    type Output: Send + 'static;
    /// Names the writer in logs and in the `writer` label of its metrics.
    const NAME: &'static str;
    /// Whether an item whose caller stopped waiting (its request timed out,
    /// its client left) is taken out of the batch before COMMIT: that caller
    /// was answered an error, so its write must not land after all. False
    /// where the write must land whoever still waits for it.
    const UNDONE_WHEN_ABANDONED: bool;

    /// Writes `items`, returning one output per item, in order.
    fn write(
        &self,
        conn: &mut PgConnection,
        items: &[&Self::Item],
    ) -> impl Future<Output = sqlx::Result<Vec<Self::Output>>> + Send;
}

/// Why an item could not be written: the database failed, nothing was recorded.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{0}")]
pub struct WriteFailed(Arc<str>);

impl From<&sqlx::Error> for WriteFailed {
    fn from(error: &sqlx::Error) -> Self {
        Self(error.to_string().into())
    }
}

struct Pending<S: BatchStatement> {
    item: S::Item,
    done: oneshot::Sender<Result<S::Output, WriteFailed>>,
}

impl<S: BatchStatement> Pending<S> {
    /// Its caller stopped waiting and its write is to be undone.
    fn is_abandoned(&self) -> bool {
        S::UNDONE_WHEN_ABANDONED && self.done.is_closed()
    }
}

/// A handle on a writer; cheap to clone and share.
pub struct GroupCommit<S: BatchStatement> {
    queue: mpsc::Sender<Pending<S>>,
}

impl<S: BatchStatement> Clone for GroupCommit<S> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
        }
    }
}

impl<S: BatchStatement> GroupCommit<S> {
    /// Starts the writer on `slots` connections of its own, opened like
    /// `pool`'s, so that its commits never wait behind other work for a
    /// connection. Must be called inside the Tokio runtime. It stops once
    /// every handle is dropped and what they queued is committed.
    pub fn start(pool: &PgPool, slots: usize, statement: S) -> Self {
        let own = PgPoolOptions::new()
            .max_connections(slots as u32)
            .acquire_timeout(pool.options().get_acquire_timeout())
            // Not tested before use (a round trip per batch): a connection
            // found dead fails its BEGIN, before anything was written, and
            // the batch retries on a fresh one.
            .test_before_acquire(false)
            .connect_lazy_with((*pool.connect_options()).clone());
        let (queue, pending) = mpsc::channel(MAX_BATCH * slots);
        tokio::spawn(gather(own, slots, Arc::new(statement), pending));
        Self { queue }
    }

    /// Writes `item` and returns once it is committed.
    pub async fn write(&self, item: S::Item) -> Result<S::Output, WriteFailed> {
        let (done, committed) = oneshot::channel();
        let stopped = || WriteFailed(format!("the {} writer has stopped", S::NAME).into());
        self.queue.send(Pending { item, done }).await.map_err(|_| stopped())?;
        committed.await.map_err(|_| stopped())?
    }
}

async fn gather<S: BatchStatement>(
    pool: PgPool,
    slots: usize,
    statement: Arc<S>,
    mut pending: mpsc::Receiver<Pending<S>>,
) {
    let slots = Arc::new(Semaphore::new(slots));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = Vec::new();
        if pending.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        let pool = pool.clone();
        let statement = statement.clone();
        tokio::spawn(async move {
            commit(&pool, &*statement, batch).await;
            drop(slot);
        });
    }
}

/// Commits one batch and answers its items. A batch refused for its data
/// (not for the database being away) is retried item by item, so that one
/// item the database rejects cannot fail the others.
async fn commit<S: BatchStatement>(pool: &PgPool, statement: &S, mut batch: Vec<Pending<S>>) {
    metrics::counter!("ivr_group_commit_batches_total", "writer" => S::NAME).increment(1);
    metrics::counter!("ivr_group_commit_items_total", "writer" => S::NAME).increment(batch.len() as u64);
    let written = loop {
        batch.retain(|pending| !pending.is_abandoned());
        if batch.is_empty() {
            return;
        }
        let items: Vec<&S::Item> = batch.iter().map(|p| &p.item).collect();
        match write(pool, statement, &items, || batch.iter().any(Pending::is_abandoned)).await {
            Err(Written::Abandoned) => continue,
            Err(Written::Failed(error)) => break Err(error),
            Ok(outputs) => break Ok(outputs),
        }
    };
    match written {
        Ok(outputs) => {
            for (pending, output) in batch.into_iter().zip(outputs) {
                let _ = pending.done.send(Ok(output));
            }
        }
        Err(error) if batch.len() > 1 && is_about_the_data(&error) => {
            tracing::warn!(%error, items = batch.len(), writer = S::NAME, "batch refused; writing its items one by one");
            for pending in batch {
                let output = match write(pool, statement, &[&pending.item], || pending.is_abandoned()).await {
                    Ok(mut outputs) => Ok(outputs.remove(0)),
                    Err(Written::Abandoned) => continue,
                    Err(Written::Failed(error)) => Err(WriteFailed::from(&error)),
                };
                let _ = pending.done.send(output);
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

/// Why a batch was not committed.
enum Written {
    /// A caller gave up before COMMIT; the batch was rolled back.
    Abandoned,
    Failed(sqlx::Error),
}

impl From<sqlx::Error> for Written {
    fn from(error: sqlx::Error) -> Self {
        Self::Failed(error)
    }
}

/// Writes `items` in one transaction, rolled back instead of committed when
/// `abandoned()` says a caller gave up meanwhile (the statement may have waited
/// on a lock for longer than that caller's timeout). A caller who gives up
/// during the COMMIT itself may still see its write land: that window is one
/// WAL flush, as for any transaction whose client disconnects while committing.
async fn write<S: BatchStatement>(
    pool: &PgPool,
    statement: &S,
    items: &[&S::Item],
    abandoned: impl Fn() -> bool,
) -> Result<Vec<S::Output>, Written> {
    let mut attempt = 1;
    loop {
        // One statement, yet inside a transaction: were it autocommitted, a
        // statement still running when the connection is lost (its caller
        // already answered 503) would commit alone. Without the COMMIT it
        // rolls back.
        let mut tx = begin(pool).await?;
        match statement.write(&mut tx, items).await {
            Ok(_) if abandoned() => {
                tx.rollback().await?;
                return Err(Written::Abandoned);
            }
            Ok(outputs) if outputs.len() == items.len() => return Ok(tx.commit().await.map(|()| outputs)?),
            Ok(outputs) => {
                return Err(Written::Failed(sqlx::Error::Protocol(format!(
                    "{} wrote {} items but reported {}",
                    S::NAME,
                    items.len(),
                    outputs.len()
                ))));
            }
            Err(error) if attempt < ATTEMPTS && is_lost_race(&error) => attempt += 1,
            Err(error) => return Err(Written::Failed(error)),
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

/// The call journal's statement: journal rows and welcome SMS, cool-down included.
pub struct JournalCalls {
    pub cooldown: Duration,
}

impl BatchStatement for JournalCalls {
    type Item = NewCall;
    type Output = WelcomeOutcome;
    const NAME: &'static str = "journal";
    /// A caller answered 503 must not find its SMS queued anyway.
    const UNDONE_WHEN_ABANDONED: bool = true;

    fn write(
        &self,
        conn: &mut PgConnection,
        items: &[&NewCall],
    ) -> impl Future<Output = sqlx::Result<Vec<WelcomeOutcome>>> + Send {
        calls::record_batch(conn, items, self.cooldown)
    }
}

/// Journal commits in flight at once. One measured fastest: while a batch
/// commits, calls gather into the next, and a bigger batch costs the database
/// less per call (dial with new callers: 1 slot 14,700 req/s, 2 slots 14,000,
/// 4 slots 11,200).
pub const JOURNAL_SLOTS: usize = 1;

/// The call journal's writer, shared by every HTTP worker.
pub type CallWriter = GroupCommit<JournalCalls>;
