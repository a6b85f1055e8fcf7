//! One attempt's outcome: as the transport saw it ([`Delivery`]), as the
//! queue records it ([`Finish`]), with what was observed ([`AttemptLog`]).

use std::time::Duration;

use uuid::Uuid;

use super::Job;

/// What one attempt to hand a job to a transport gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Acknowledged: never to be sent again.
    Delivered {
        provider_message_id: Option<String>,
        http_status: Option<u16>,
    },
    /// Worth another try (network error, timeout, 408, 429, 5xx).
    Transient {
        error: String,
        retry_after: Option<Duration>,
        http_status: Option<u16>,
    },
    /// Will never succeed as it is (any other 4xx, an invalid number).
    Permanent { error: String, http_status: Option<u16> },
}

impl Delivery {
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::Delivered { http_status, .. }
            | Self::Transient { http_status, .. }
            | Self::Permanent { http_status, .. } => *http_status,
        }
    }
}

/// How an attempt ended, as the queue records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finish {
    Delivered {
        provider_message_id: Option<String>,
    },
    /// Try again after `after`.
    Retry {
        after: Duration,
        error: String,
    },
    Failed {
        error: String,
    },
}

/// What was observed during one attempt, for the attempts log.
#[derive(Clone, Debug)]
pub struct AttemptLog {
    pub started_at_unix_ms: i64,
    pub duration: Duration,
    pub http_status: Option<u16>,
}

/// One attempt that has ended, ready to be recorded.
#[derive(Clone, Debug)]
pub struct EndedAttempt {
    pub id: Uuid,
    /// The claim it was made under.
    pub lease_token: Uuid,
    pub attempt: i32,
    pub finish: Finish,
    pub log: AttemptLog,
}

impl EndedAttempt {
    pub fn of(job: &impl Job, finish: Finish, log: AttemptLog) -> Self {
        Self {
            id: job.id(),
            lease_token: job.lease_token(),
            attempt: job.attempt(),
            finish,
            log,
        }
    }
}
