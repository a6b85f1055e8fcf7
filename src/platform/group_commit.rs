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
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::{Semaphore, mpsc, oneshot};

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

/// Why an item could not be written: nothing was recorded. Shared by every
/// item of a failed batch, so the database's error is behind an `Arc`.
#[derive(Clone, Debug, thiserror::Error)]
pub enum WriteFailed {
    #[error("the {0} writer's batch failed")]
    Database(&'static str, #[source] Arc<sqlx::Error>),
    #[error("the {0} writer has stopped")]
    Stopped(&'static str),
}

impl WriteFailed {
    fn of<S: BatchStatement>(error: sqlx::Error) -> Self {
        Self::Database(S::NAME, Arc::new(error))
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
        let stopped = || WriteFailed::Stopped(S::NAME);
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
        match write(pool, statement, &batch).await {
            Err(Written::Again) => continue,
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
                if let Some(output) = write_alone(pool, statement, &pending).await {
                    let _ = pending.done.send(output);
                }
            }
        }
        Err(error) => {
            let failed = WriteFailed::of::<S>(error);
            for pending in batch {
                let _ = pending.done.send(Err(failed.clone()));
            }
        }
    }
}

/// Writes one item in a transaction of its own; `None` once its caller gave up.
async fn write_alone<S: BatchStatement>(
    pool: &PgPool,
    statement: &S,
    pending: &Pending<S>,
) -> Option<Result<S::Output, WriteFailed>> {
    loop {
        if pending.is_abandoned() {
            return None;
        }
        match write(pool, statement, std::slice::from_ref(pending)).await {
            Ok(mut outputs) => return Some(Ok(outputs.remove(0))),
            Err(Written::Again) => continue,
            Err(Written::Failed(error)) => return Some(Err(WriteFailed::of::<S>(error))),
        }
    }
}

/// Why a batch was not committed.
enum Written {
    /// Nothing was committed, and the batch is to be written again: a
    /// caller gave up before COMMIT (the batch goes again without it), or a
    /// COMMIT whose answer was lost turned out not to have committed.
    Again,
    Failed(sqlx::Error),
}

impl From<sqlx::Error> for Written {
    fn from(error: sqlx::Error) -> Self {
        Self::Failed(error)
    }
}

/// Writes `batch` in one transaction, rolled back instead of committed when
/// a caller gave up meanwhile (the statement may have waited on a lock for
/// longer than that caller's timeout).
///
/// A COMMIT whose answer is lost (the connection died while committing) may
/// or may not have committed. The transaction's id was read before the
/// COMMIT, so the writer asks the database, on a new connection, what became
/// of it: committed, the batch is answered as written; rolled back, it is
/// written again. It keeps asking until the database answers or every caller
/// has stopped waiting: only a caller whose deadline passes while the
/// database stays away gets an error for a write that may have landed.
async fn write<S: BatchStatement>(
    pool: &PgPool,
    statement: &S,
    batch: &[Pending<S>],
) -> Result<Vec<S::Output>, Written> {
    let items: Vec<&S::Item> = batch.iter().map(|pending| &pending.item).collect();
    let mut attempt = 1;
    loop {
        // One statement, yet inside a transaction: were it autocommitted, a
        // statement still running when the connection is lost (its caller
        // already answered 503) would commit alone. Without the COMMIT it
        // rolls back.
        let mut tx = begin(pool).await?;
        let outputs = match statement.write(&mut tx, &items).await {
            Ok(outputs) if outputs.len() == items.len() => outputs,
            Ok(outputs) => {
                return Err(Written::Failed(sqlx::Error::Protocol(format!(
                    "{} wrote {} items but reported {}",
                    S::NAME,
                    items.len(),
                    outputs.len()
                ))));
            }
            Err(error) if attempt < ATTEMPTS && is_lost_race(&error) => {
                attempt += 1;
                continue;
            }
            Err(error) => return Err(Written::Failed(error)),
        };
        if batch.iter().any(Pending::is_abandoned) {
            tx.rollback().await?;
            return Err(Written::Again);
        }
        let transaction_id: i64 = sqlx::query_scalar("SELECT txid_current()").fetch_one(&mut *tx).await?;
        let lost = match tx.commit().await {
            Ok(()) => return Ok(outputs),
            // The database answered: the transaction is rolled back.
            Err(error) if error.as_database_error().is_some() => return Err(Written::Failed(error)),
            Err(lost) => lost,
        };
        tracing::warn!(error = %lost, writer = S::NAME, "no answer to COMMIT; asking the database whether it committed");
        let nobody_waits = || batch.iter().all(|pending| pending.done.is_closed());
        match settle(pool, transaction_id, nobody_waits).await {
            Some(Settled::Committed) => return Ok(outputs),
            Some(Settled::RolledBack) => return Err(Written::Again),
            None => return Err(Written::Failed(lost)),
        }
    }
}

/// What became of a transaction whose COMMIT got no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Settled {
    Committed,
    RolledBack,
}

/// Pause between two questions while the database is still away.
const SETTLE_PAUSE: Duration = Duration::from_millis(100);

/// Asks the database what became of `transaction_id`, on a fresh connection
/// each time (the pool's may all be dead), until it answers or `nobody_waits`.
async fn settle(pool: &PgPool, transaction_id: i64, nobody_waits: impl Fn() -> bool) -> Option<Settled> {
    let options = pool.connect_options();
    let connect_timeout = pool.options().get_acquire_timeout();
    while !nobody_waits() {
        let asked = async {
            let mut conn = tokio::time::timeout(connect_timeout, PgConnection::connect_with(&options))
                .await
                .map_err(|_| sqlx::Error::PoolTimedOut)??;
            let status: sqlx::Result<Option<String>> = sqlx::query_scalar("SELECT txid_status($1)")
                .bind(transaction_id)
                .fetch_one(&mut conn)
                .await;
            let _ = conn.close().await;
            status
        };
        match asked.await {
            Ok(Some(status)) if status == "committed" => return Some(Settled::Committed),
            Ok(Some(status)) if status == "aborted" => return Some(Settled::RolledBack),
            // Still committing, or no answer yet: ask again.
            Ok(_) => {}
            // "Transaction ID is in the future": a crash lost every trace of
            // it, its commit record included.
            Err(error) if error.as_database_error().and_then(|e| e.code()).as_deref() == Some("22023") => {
                return Some(Settled::RolledBack);
            }
            Err(error) => tracing::debug!(%error, "cannot ask about the transaction yet"),
        }
        tokio::time::sleep(SETTLE_PAUSE).await;
    }
    None
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
