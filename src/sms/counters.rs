//! Delivery counters: in memory for tests and callers, and through the
//! `metrics` facade for `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct SmsCounters {
    delivered: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    released: AtomicU64,
    lease_lost: AtomicU64,
}

/// A point-in-time copy of [`SmsCounters`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CountersSnapshot {
    pub delivered: u64,
    pub failed: u64,
    pub retried: u64,
    /// Claimed, never attempted, handed back at shutdown.
    pub released: u64,
    /// Attempts whose lease had expired when they finished.
    pub lease_lost: u64,
}

impl SmsCounters {
    pub fn delivered(&self) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("ivr_sms_delivered_total").increment(1);
    }

    pub fn failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("ivr_sms_failed_total").increment(1);
    }

    pub fn retried(&self) {
        self.retried.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("ivr_sms_retried_total").increment(1);
    }

    pub fn released(&self, count: u64) {
        self.released.fetch_add(count, Ordering::Relaxed);
    }

    pub fn lease_lost(&self) {
        self.lease_lost.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> CountersSnapshot {
        CountersSnapshot {
            delivered: self.delivered.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            released: self.released.load(Ordering::Relaxed),
            lease_lost: self.lease_lost.load(Ordering::Relaxed),
        }
    }
}
