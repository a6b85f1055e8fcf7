//! Durable, at-least-once delivery of anything a surface has to send: the
//! welcome SMS today, webhook events and delivery reports next.
//!
//! A surface owns its queue (a table and its SQL, behind [`Queue`]) and its
//! transports ([`Deliver`]); this module owns how a queue is drained: claims
//! in batches under a lease, sends with bounded concurrency, ends every
//! attempt with a write fenced by the claim's token, records ended attempts
//! in batches (group commit), retries with back-off, and hands back what it
//! claimed but never started on shutdown. The rules every queue keeps:
//! - a claim is durable before any of its sends starts;
//! - an ended attempt is kept until it is recorded, however long the
//!   database is away (only the fence ends the wait);
//! - a lease granted before the database last started is not taken over
//!   until the database has been up for one lease (see `sms::queue::claim`).

mod attempt;
mod finish_columns;
pub mod counters;
pub mod http;
pub mod retry;
pub mod worker;

use std::time::Duration;

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub use attempt::{AttemptLog, Delivery, EndedAttempt, Finish};
pub use counters::{CountersSnapshot, DeliveryCounters};
pub use finish_columns::FinishColumns;
pub use retry::RetryPolicy;
pub use worker::{BatchOutcome, Worker, WorkerSettings};

/// One claimed item of a queue: what its transport sends, and the claim.
pub trait Job: Send + Sync + 'static {
    /// Also the idempotency key of every attempt.
    fn id(&self) -> Uuid;
    /// The claim it was taken under; fences every write that ends its attempt.
    fn lease_token(&self) -> Uuid;
    /// This attempt's number, from 1.
    fn attempt(&self) -> i32;
}

/// A durable queue: its table and SQL stay private to the surface that owns it.
pub trait Queue: Send + Sync + 'static {
    type Job: Job;
    /// The queue in logs.
    const NAME: &'static str;
    /// The `writer` label of the group-commit metrics of its ended attempts.
    const FINISH_WRITER: &'static str;
    /// The channel a `NOTIFY` says "something is due" on.
    const DUE_CHANNEL: &'static str;

    /// Claims up to `limit` due jobs for `lease`, durably, skipping (never
    /// waiting for) jobs another worker is claiming.
    fn claim(
        &self,
        pool: &PgPool,
        limit: i64,
        lease: Duration,
    ) -> impl Future<Output = sqlx::Result<Vec<Self::Job>>> + Send;

    /// Records every ended attempt and, for each job that still holds its
    /// claim, ends it as its `finish` says, in one statement. Returns, per
    /// attempt, whether it held its claim.
    fn finish(
        &self,
        conn: &mut PgConnection,
        attempts: &[&EndedAttempt],
    ) -> impl Future<Output = sqlx::Result<Vec<bool>>> + Send;

    /// Hands back claimed jobs that were never attempted: due at once, their
    /// attempt count restored. Returns how many were still held.
    fn release(&self, pool: &PgPool, unstarted: &[Self::Job]) -> impl Future<Output = sqlx::Result<u64>> + Send;
}

/// A way to send a queue's jobs.
pub trait Deliver<J>: Send + Sync + 'static {
    /// The transport in logs.
    fn name(&self) -> &'static str;
    /// One attempt. Never fails as a future: every outcome is a [`Delivery`].
    fn deliver(&self, job: &J) -> impl Future<Output = Delivery> + Send;
}
