//! Delivery counters: in memory for tests and callers, and through the
//! `metrics` facade for `/metrics`, under each queue's own names.

use std::sync::atomic::{AtomicU64, Ordering};

/// The `/metrics` names a queue's counters are published under.
#[derive(Debug)]
pub struct MetricNames {
    pub delivered: &'static str,
    pub failed: &'static str,
    pub retried: &'static str,
}

#[derive(Debug)]
pub struct DeliveryCounters {
    names: &'static MetricNames,
    delivered: AtomicU64,
    failed: AtomicU64,
    retried: AtomicU64,
    released: AtomicU64,
    lease_lost: AtomicU64,
}

/// A point-in-time copy of [`DeliveryCounters`].
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

impl DeliveryCounters {
    pub fn named(names: &'static MetricNames) -> Self {
        Self {
            names,
            delivered: AtomicU64::default(),
            failed: AtomicU64::default(),
            retried: AtomicU64::default(),
            released: AtomicU64::default(),
            lease_lost: AtomicU64::default(),
        }
    }

    pub fn delivered(&self) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(self.names.delivered).increment(1);
    }

    pub fn failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(self.names.failed).increment(1);
    }

    pub fn retried(&self) {
        self.retried.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(self.names.retried).increment(1);
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
