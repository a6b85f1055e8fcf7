//! A batch of ended attempts as Postgres arrays, one per column, for a
//! queue's `UPDATE … FROM unnest(…)` finish statement.

use uuid::Uuid;

use super::{EndedAttempt, Finish};

/// The ended attempts of a batch, a Postgres array per column.
pub struct FinishColumns<'a> {
    pub ids: Vec<Uuid>,
    pub lease_tokens: Vec<Uuid>,
    pub statuses: Vec<&'static str>,
    pub retry_after: Vec<f64>,
    pub errors: Vec<Option<&'a str>>,
    pub provider_message_ids: Vec<Option<&'a str>>,
    pub attempts: Vec<i32>,
    pub started_ms: Vec<f64>,
    pub duration_ms: Vec<i32>,
    pub http_statuses: Vec<Option<i16>>,
    pub outcomes: Vec<&'static str>,
}

impl<'a> FinishColumns<'a> {
    /// `status` names the status a finish leaves its row in, in the queue's vocabulary.
    pub fn of(attempts: &[&'a EndedAttempt], status: impl Fn(&Finish) -> &'static str) -> Self {
        let mut columns = Self {
            ids: Vec::with_capacity(attempts.len()),
            lease_tokens: Vec::with_capacity(attempts.len()),
            statuses: Vec::with_capacity(attempts.len()),
            retry_after: Vec::with_capacity(attempts.len()),
            errors: Vec::with_capacity(attempts.len()),
            provider_message_ids: Vec::with_capacity(attempts.len()),
            attempts: Vec::with_capacity(attempts.len()),
            started_ms: Vec::with_capacity(attempts.len()),
            duration_ms: Vec::with_capacity(attempts.len()),
            http_statuses: Vec::with_capacity(attempts.len()),
            outcomes: Vec::with_capacity(attempts.len()),
        };
        for ended in attempts {
            let (outcome, retry_after, error, provider_message_id) = match &ended.finish {
                Finish::Delivered { provider_message_id } => ("delivered", 0.0, None, provider_message_id.as_deref()),
                Finish::Retry { after, error } => ("retry", after.as_secs_f64(), Some(error.as_str()), None),
                Finish::Failed { error } => ("failed", 0.0, Some(error.as_str()), None),
            };
            let status = status(&ended.finish);
            columns.ids.push(ended.id);
            columns.lease_tokens.push(ended.lease_token);
            columns.statuses.push(status);
            columns.retry_after.push(retry_after);
            columns.errors.push(error);
            columns.provider_message_ids.push(provider_message_id);
            columns.attempts.push(ended.attempt);
            columns.started_ms.push(ended.log.started_at_unix_ms as f64);
            columns
                .duration_ms
                .push(i32::try_from(ended.log.duration.as_millis()).unwrap_or(i32::MAX));
            columns.http_statuses.push(ended.log.http_status.map(|s| s as i16));
            columns.outcomes.push(outcome);
        }
        columns
    }
}

impl FinishColumns<'_> {
    /// Which attempts held their lease, from the 1-based positions the
    /// statement's fenced update returned.
    pub fn held(&self, fenced: Vec<i64>) -> Vec<bool> {
        let mut held = vec![false; self.ids.len()];
        for position in fenced {
            held[position as usize - 1] = true;
        }
        held
    }
}
