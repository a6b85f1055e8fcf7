//! The delivery worker: claims due jobs of one [`Queue`] in batches, sends
//! them through one transport with bounded concurrency, and ends each attempt
//! with a fenced write.
//!
//! Claims are pipelined: once every job of a batch has started, the next
//! batch is claimed while they are still in flight, so the queue never waits
//! for a batch's slowest delivery. A job therefore waits at most for one
//! batch ahead of it, which bounds its time under lease. Ended attempts are
//! recorded through a group-commit writer: one statement and one commit for
//! whatever has ended meanwhile, not one per job.
//!
//! It wakes on `NOTIFY` on the queue's channel and polls as a fallback. On shutdown it
//! stops claiming, lets attempts in flight finish within a grace period, and
//! hands back what it claimed but never started. Several workers (threads,
//! processes, replicas) share one outbox safely: claims skip locked rows, and
//! a lease that runs out makes its rows due again.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sqlx::PgPool;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};

use super::{AttemptLog, Deliver, Delivery, DeliveryCounters, EndedAttempt, Finish, Job, Queue, RetryPolicy};
use crate::platform::group_commit::{BatchStatement, GroupCommit};
use crate::platform::notifications::{Notice, Notifications, Subscription};
use crate::platform::telemetry::Chain;

/// Pauses between tries at recording an ended attempt while the database is
/// away: short at first, at most a second, so a recovered database is seen soon.
const RECORD_PAUSE_MIN: Duration = Duration::from_millis(50);
const RECORD_PAUSE_MAX: Duration = Duration::from_secs(1);
/// Commits of ended attempts in flight at once, each on a connection of its own.
pub const FINISH_SLOTS: usize = 2;
/// Batches claimed and not yet recorded, at most: the one being delivered,
/// and room for the next ones to be claimed while earlier attempts are
/// still being recorded (4 measured ~30% faster than 2; 8 no better).
const BATCHES_IN_HAND: u32 = 4;

#[derive(Clone, Copy, Debug)]
pub struct WorkerSettings {
    pub batch_size: i64,
    pub concurrency: usize,
    /// How long a claim is exclusive; must exceed one delivery's timeout.
    pub lease: Duration,
    pub poll_interval: Duration,
    /// How long attempts in flight may take to finish after shutdown starts.
    pub shutdown_grace: Duration,
}

/// What one claim-and-deliver pass did; tests drain the queue with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchOutcome {
    pub claimed: usize,
    pub released: usize,
}

pub struct Worker<Q: Queue, T: Deliver<Q::Job>> {
    shared: Arc<Shared<Q, T>>,
    settings: WorkerSettings,
}

impl<Q: Queue, T: Deliver<Q::Job>> Clone for Worker<Q, T> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            settings: self.settings,
        }
    }
}

struct Shared<Q: Queue, T> {
    pool: PgPool,
    queue: Arc<Q>,
    transport: T,
    policy: RetryPolicy,
    counters: Arc<DeliveryCounters>,
    /// Deliveries in flight, across batches.
    deliveries: Arc<Semaphore>,
    /// Claimed jobs whose attempt is not recorded yet: [`BATCHES_IN_HAND`]
    /// batches of `batch_permits`.
    unfinished: Arc<Semaphore>,
    batch_permits: u32,
    finishes: GroupCommit<RecordAttempts<Q>>,
}

/// Ends a batch of attempts in one statement.
struct RecordAttempts<Q>(Arc<Q>);

impl<Q: Queue> BatchStatement for RecordAttempts<Q> {
    type Item = EndedAttempt;
    type Output = bool;
    const NAME: &'static str = Q::FINISH_WRITER;
    /// The job was delivered or not whoever waits: recording it spares a resend.
    const UNDONE_WHEN_ABANDONED: bool = false;

    fn write(
        &self,
        conn: &mut sqlx::PgConnection,
        items: &[&EndedAttempt],
    ) -> impl Future<Output = sqlx::Result<Vec<bool>>> + Send {
        self.0.finish(conn, items)
    }
}

impl<Q: Queue, T: Deliver<Q::Job>> Worker<Q, T> {
    /// Must be called inside the Tokio runtime (it starts the writer of ended attempts).
    pub fn new(
        pool: PgPool,
        queue: Q,
        transport: T,
        policy: RetryPolicy,
        settings: WorkerSettings,
        counters: Arc<DeliveryCounters>,
    ) -> Self {
        // At most 10,000 per batch (the SMS worker's IVR_SMS_BATCH range).
        let batch_permits = u32::try_from(settings.batch_size.max(1)).unwrap_or(u32::MAX / BATCHES_IN_HAND);
        let queue = Arc::new(queue);
        Self {
            shared: Arc::new(Shared {
                finishes: GroupCommit::start(&pool, FINISH_SLOTS, RecordAttempts(queue.clone())),
                queue,
                pool,
                transport,
                policy,
                counters,
                deliveries: Arc::new(Semaphore::new(settings.concurrency.max(1))),
                unfinished: Arc::new(Semaphore::new((batch_permits * BATCHES_IN_HAND) as usize)),
                batch_permits,
            }),
            settings,
        }
    }

    pub fn counters(&self) -> &Arc<DeliveryCounters> {
        &self.shared.counters
    }

    /// Runs until `shutdown` turns true, then drains as described above.
    /// Wakes on the queue's channel through `notifications`.
    pub fn run(
        self,
        notifications: &Notifications,
        mut shutdown: watch::Receiver<bool>,
    ) -> impl Future<Output = ()> + Send + 'static {
        let due = notifications.subscribe(Q::DUE_CHANNEL);
        async move {
            tracing::info!(
                queue = Q::NAME,
                transport = self.shared.transport.name(),
                "delivery worker started"
            );
            let wake = Arc::new(Notify::new());
            let listener = tokio::spawn(wake_on_due(due, wake.clone()));
            while !*shutdown.borrow() {
                match self.start_batch(&mut shutdown).await {
                    Ok(outcome) if outcome.claimed as i64 == self.settings.batch_size => continue,
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, queue = Q::NAME, "delivery worker cannot reach the database"),
                }
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(self.settings.poll_interval) => {}
                    _ = shutdown.wait_for(|stop| *stop) => {}
                }
            }
            self.wait_for_deliveries(self.settings.shutdown_grace).await;
            listener.abort();
            tracing::info!(queue = Q::NAME, "delivery worker stopped");
        }
    }

    /// Claims one batch, delivers it and waits until every attempt in flight
    /// has ended. Stops starting attempts once `shutdown` turns true and
    /// releases the rest.
    pub async fn run_batch(&self, shutdown: &mut watch::Receiver<bool>) -> sqlx::Result<BatchOutcome> {
        let outcome = self.start_batch(shutdown).await?;
        let grace = if *shutdown.borrow() {
            self.settings.shutdown_grace
        } else {
            Duration::MAX
        };
        self.wait_for_deliveries(grace).await;
        Ok(outcome)
    }

    /// Claims one batch and returns once each of its jobs has started (or,
    /// on shutdown, been released).
    async fn start_batch(&self, shutdown: &mut watch::Receiver<bool>) -> sqlx::Result<BatchOutcome> {
        let mut room = self
            .shared
            .unfinished
            .clone()
            .acquire_many_owned(self.shared.batch_permits)
            .await
            .expect("the semaphore is never closed");
        let batch = self
            .shared
            .queue
            .claim(&self.shared.pool, self.settings.batch_size, self.settings.lease)
            .await?;
        let claimed = batch.len();
        let mut pending = batch.into_iter();
        let mut unstarted = Vec::new();
        while let Some(job) = pending.next() {
            let delivering = tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => {
                    unstarted.push(job);
                    unstarted.extend(pending);
                    break;
                }
                permit = self.shared.deliveries.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            };
            let unfinished = room.split(1).expect("room was taken for a whole batch");
            let shared = self.shared.clone();
            tokio::spawn(async move {
                shared.attempt(job, delivering).await;
                drop(unfinished);
            });
        }
        let released = if unstarted.is_empty() {
            0
        } else {
            self.release(&unstarted).await
        };
        Ok(BatchOutcome { claimed, released })
    }

    /// Every claimed job holds a permit until its attempt is recorded:
    /// holding them all means none is in flight.
    async fn wait_for_deliveries(&self, grace: Duration) {
        let all = self
            .shared
            .unfinished
            .acquire_many(self.shared.batch_permits * BATCHES_IN_HAND);
        match tokio::time::timeout(grace, all).await {
            Ok(permits) => drop(permits),
            Err(_) => {
                tracing::warn!(
                    queue = Q::NAME,
                    "deliveries still in flight after the shutdown grace; their leases will expire"
                )
            }
        }
    }

    async fn release(&self, unstarted: &[Q::Job]) -> usize {
        match self.shared.queue.release(&self.shared.pool, unstarted).await {
            Ok(released) => {
                self.shared.counters.released(released);
                released as usize
            }
            Err(error) => {
                tracing::warn!(%error, queue = Q::NAME, "cannot release unstarted jobs; their leases will expire");
                0
            }
        }
    }
}

impl<Q: Queue, T: Deliver<Q::Job>> Shared<Q, T> {
    /// Delivers `job` while holding a delivery permit, then records the attempt.
    async fn attempt(&self, job: Q::Job, delivering: OwnedSemaphorePermit) {
        let started_at_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let started = Instant::now();
        let delivery = self.transport.deliver(&job).await;
        drop(delivering);
        let log = AttemptLog {
            started_at_unix_ms,
            duration: started.elapsed(),
            http_status: delivery.http_status(),
        };
        let ended = EndedAttempt::of(&job, self.decide(&job, delivery), log);
        self.record(ended).await;
    }

    /// Records an ended attempt, however long the database stays away: an
    /// acknowledged send that is not recorded would be sent again once its
    /// lease runs out. Only the fence ends the wait early, when the row was
    /// claimed by another worker meanwhile. This task holds its `unfinished`
    /// permit until then, so a worker cut off from the database stops
    /// claiming instead of piling up unrecorded attempts.
    async fn record(&self, ended: EndedAttempt) {
        let mut pause = RECORD_PAUSE_MIN;
        let mut failures = 0u32;
        loop {
            match self.finishes.write(ended.clone()).await {
                Ok(true) => {
                    if failures > 0 {
                        tracing::info!(queue = Q::NAME, job = %ended.id, failures, "attempt recorded once the database was back");
                    }
                    return self.count(&ended.finish);
                }
                Ok(false) => {
                    self.counters.lease_lost();
                    tracing::warn!(queue = Q::NAME, job = %ended.id, "lease taken over before the attempt was recorded; left to its new owner");
                    return;
                }
                Err(error) => {
                    failures += 1;
                    if failures == 1 {
                        tracing::warn!(queue = Q::NAME, job = %ended.id, error = %Chain(&error), "cannot record the attempt yet; keeping it until the database is back");
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(RECORD_PAUSE_MAX);
                }
            }
        }
    }

    fn decide(&self, job: &Q::Job, delivery: Delivery) -> Finish {
        match delivery {
            Delivery::Delivered {
                provider_message_id, ..
            } => Finish::Delivered { provider_message_id },
            Delivery::Permanent { error, .. } => Finish::Failed { error },
            Delivery::Transient { error, retry_after, .. } => {
                match self.policy.next_delay(job.attempt().max(1) as u32, retry_after) {
                    Some(after) => Finish::Retry { after, error },
                    None => Finish::Failed {
                        error: format!("{error} (gave up after {} attempts)", job.attempt()),
                    },
                }
            }
        }
    }

    fn count(&self, finish: &Finish) {
        match finish {
            Finish::Delivered { .. } => self.counters.delivered(),
            Finish::Retry { .. } => self.counters.retried(),
            Finish::Failed { .. } => self.counters.failed(),
        }
    }
}

/// Turns notices of the queue's channel into wake-ups.
async fn wake_on_due(mut due: Subscription, wake: Arc<Notify>) {
    while let Some(notice) = due.recv().await {
        match notice {
            // Whatever became due while nobody listened is found by this wake-up.
            Notice::Listening | Notice::Notified(_) | Notice::Missed => wake.notify_one(),
            Notice::Lost => {}
        }
    }
}
