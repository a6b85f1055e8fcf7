//! Infobip's metrics: delivery reports pushed to `notifyUrl`.

use std::sync::Arc;

use super::reports::ReportOutbox;
use crate::platform::metrics::{self, Kind, Series};
use crate::platform::outbox::counters::MetricNames;
use crate::platform::outbox::{DeliveryCounters, Queue};

/// The `/metrics` names of the report worker's counters.
pub const REPORT_METRICS: MetricNames = MetricNames {
    delivered: "ivr_infobip_reports_delivered_total",
    failed: "ivr_infobip_reports_failed_total",
    retried: "ivr_infobip_reports_retried_total",
};

pub const SERIES: &[Series] = &[
    Series {
        name: "ivr_infobip_reports_delivered_total",
        kind: Kind::Counter,
        help: "Infobip delivery reports acknowledged by their notifyUrl, by this process's worker",
    },
    Series {
        name: "ivr_infobip_reports_failed_total",
        kind: Kind::Counter,
        help: "Infobip delivery reports given up (permanent error or attempts spent), by this process's worker",
    },
    Series {
        name: "ivr_infobip_reports_retried_total",
        kind: Kind::Counter,
        help: "Infobip delivery report attempts that ended in a retry, by this process's worker",
    },
];

/// Counters for the report worker, under [`REPORT_METRICS`].
pub fn counters() -> Arc<DeliveryCounters> {
    Arc::new(DeliveryCounters::named(&REPORT_METRICS))
}

/// Describes the series and registers them at zero.
pub fn register() {
    metrics::describe(SERIES);
    for series in SERIES {
        ::metrics::counter!(series.name).increment(0);
    }
    metrics::register_writer(ReportOutbox::FINISH_WRITER);
}
