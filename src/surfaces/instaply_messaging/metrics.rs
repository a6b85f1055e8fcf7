//! The messaging side's metrics: event deliveries.

use std::sync::Arc;

use crate::platform::metrics::{self, Kind, Series};
use crate::platform::outbox::DeliveryCounters;
use crate::platform::outbox::Queue;
use crate::platform::outbox::counters::MetricNames;
use crate::surfaces::instaply_messaging::storage::deliveries::DeliveryOutbox;

/// The `/metrics` names of the delivery worker's counters.
pub const DELIVERY_METRICS: MetricNames = MetricNames {
    delivered: "ivr_webhook_deliveries_delivered_total",
    failed: "ivr_webhook_deliveries_failed_total",
    retried: "ivr_webhook_deliveries_retried_total",
};

pub const SERIES: &[Series] = &[
    Series {
        name: "ivr_webhook_deliveries_delivered_total",
        kind: Kind::Counter,
        help: "Webhook and legacy-hook deliveries acknowledged, by this process's worker",
    },
    Series {
        name: "ivr_webhook_deliveries_failed_total",
        kind: Kind::Counter,
        help: "Deliveries given up (permanent error or attempts spent), by this process's worker",
    },
    Series {
        name: "ivr_webhook_deliveries_retried_total",
        kind: Kind::Counter,
        help: "Delivery attempts that ended in a retry, by this process's worker",
    },
];

/// Counters for a delivery worker, under [`DELIVERY_METRICS`].
pub fn counters() -> Arc<DeliveryCounters> {
    Arc::new(DeliveryCounters::named(&DELIVERY_METRICS))
}

/// Describes the series and registers them at zero.
pub fn register() {
    metrics::describe(SERIES);
    for series in SERIES {
        ::metrics::counter!(series.name).increment(0);
    }
    metrics::register_writer(DeliveryOutbox::FINISH_WRITER);
}
