//! The delivery worker: claims due SMS in batches, delivers them with bounded
//! concurrency, and ends each attempt with a fenced write.
//!
//! It wakes on `NOTIFY sms_outbox_due` and polls as a fallback. On shutdown it
//! stops claiming, lets attempts in flight finish within a grace period, and
//! hands back what it claimed but never started. Several workers (threads,
//! processes, replicas) share one outbox safely: claims skip locked rows, and
//! a lease that runs out makes its rows due again.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

use super::counters::SmsCounters;
use super::queue::{self, AttemptLog, ClaimedSms, Finish};
use super::retry::RetryPolicy;
use super::transport::{Delivery, Transport};

/// The channel `sms_outbox_due` notifications arrive on.
const CHANNEL: &str = "sms_outbox_due";
/// Attempts at recording an attempt's end before leaving it to the lease.
const FINISH_TRIES: u32 = 3;

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

#[derive(Clone)]
pub struct Worker {
    shared: Arc<Shared>,
    settings: WorkerSettings,
}

struct Shared {
    pool: PgPool,
    transport: Transport,
    policy: RetryPolicy,
    counters: Arc<SmsCounters>,
}

impl Worker {
    pub fn new(
        pool: PgPool,
        transport: Transport,
        policy: RetryPolicy,
        settings: WorkerSettings,
        counters: Arc<SmsCounters>,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                pool,
                transport,
                policy,
                counters,
            }),
            settings,
        }
    }

    pub fn counters(&self) -> &Arc<SmsCounters> {
        &self.shared.counters
    }

    /// Runs until `shutdown` turns true, then drains as described above.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(transport = self.shared.transport.name(), "SMS worker started");
        let wake = Arc::new(Notify::new());
        let listener = tokio::spawn(listen(self.shared.pool.clone(), wake.clone(), shutdown.clone()));
        while !*shutdown.borrow() {
            match self.run_batch(&mut shutdown).await {
                Ok(outcome) if outcome.claimed as i64 == self.settings.batch_size => continue,
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "SMS worker cannot reach the database"),
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(self.settings.poll_interval) => {}
                _ = shutdown.wait_for(|stop| *stop) => {}
            }
        }
        listener.abort();
        tracing::info!("SMS worker stopped");
    }

    /// Claims one batch and delivers it. Stops starting attempts once
    /// `shutdown` turns true and releases the rest.
    pub async fn run_batch(&self, shutdown: &mut watch::Receiver<bool>) -> sqlx::Result<BatchOutcome> {
        let batch = queue::claim(&self.shared.pool, self.settings.batch_size, self.settings.lease).await?;
        let claimed = batch.len();
        let permits = Arc::new(Semaphore::new(self.settings.concurrency));
        let mut in_flight = JoinSet::new();
        let mut pending = batch.into_iter();
        let mut unstarted = Vec::new();
        while let Some(sms) = pending.next() {
            let permit = tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => {
                    unstarted.push(sms);
                    unstarted.extend(pending);
                    break;
                }
                permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            };
            let shared = self.shared.clone();
            in_flight.spawn(async move {
                let _permit = permit;
                shared.attempt(sms).await;
            });
        }
        let released = if unstarted.is_empty() {
            0
        } else {
            self.release(&unstarted).await
        };
        if *shutdown.borrow() {
            let drained = tokio::time::timeout(self.settings.shutdown_grace, in_flight.join_all()).await;
            if drained.is_err() {
                tracing::warn!("SMS deliveries still in flight after the shutdown grace; their leases will expire");
            }
        } else {
            in_flight.join_all().await;
        }
        Ok(BatchOutcome { claimed, released })
    }

    async fn release(&self, unstarted: &[ClaimedSms]) -> usize {
        match queue::release(&self.shared.pool, unstarted).await {
            Ok(released) => {
                self.shared.counters.released(released);
                released as usize
            }
            Err(error) => {
                tracing::warn!(%error, "cannot release unstarted SMS; their leases will expire");
                0
            }
        }
    }
}

impl Shared {
    async fn attempt(&self, sms: ClaimedSms) {
        let started_at_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let started = Instant::now();
        let delivery = self.transport.deliver(&sms).await;
        let log = AttemptLog {
            started_at_unix_ms,
            duration: started.elapsed(),
            http_status: delivery.http_status(),
        };
        let finish = self.decide(&sms, delivery);
        for try_number in 1..=FINISH_TRIES {
            let recorded = async { queue::finish(&mut *self.pool.acquire().await?, &sms, &finish, &log).await };
            match recorded.await {
                Ok(true) => return self.count(&finish),
                Ok(false) => {
                    self.counters.lease_lost();
                    tracing::warn!(sms = %sms.id, "lease expired before the attempt finished; left to its new owner");
                    return;
                }
                Err(error) if try_number < FINISH_TRIES => {
                    tracing::warn!(sms = %sms.id, %error, "cannot record the attempt yet; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(try_number))).await;
                }
                Err(error) => {
                    // At least once: after the lease it is claimed and sent again,
                    // with the same id as its idempotency key.
                    tracing::error!(sms = %sms.id, %error, "cannot record the attempt; the SMS will be retried");
                }
            }
        }
    }

    fn decide(&self, sms: &ClaimedSms, delivery: Delivery) -> Finish {
        match delivery {
            Delivery::Delivered {
                provider_message_id, ..
            } => Finish::Delivered { provider_message_id },
            Delivery::Permanent { error, .. } => Finish::Failed { error },
            Delivery::Transient { error, retry_after, .. } => {
                match self.policy.next_delay(sms.attempt.max(1) as u32, retry_after) {
                    Some(after) => Finish::Retry { after, error },
                    None => Finish::Failed {
                        error: format!("{error} (gave up after {} attempts)", sms.attempt),
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

/// Turns `NOTIFY sms_outbox_due` into wake-ups, reconnecting as needed.
async fn listen(pool: PgPool, wake: Arc<Notify>, mut shutdown: watch::Receiver<bool>) {
    loop {
        if let Ok(mut listener) = PgListener::connect_with(&pool).await
            && listener.listen(CHANNEL).await.is_ok()
        {
            // Anything queued while we were not listening is found by this wake-up.
            wake.notify_one();
            while listener.recv().await.is_ok() {
                wake.notify_one();
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}
