//! The SQL of launches and of the call queue (`infobip_calls`): a launch
//! written in one transaction, due calls claimed under a lease (skipping
//! those another dialer holds), and each played call ended with a write
//! fenced by its claim, its report queued in the same statement.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::launch::{Launch, Retry};
use super::scenario::Errors;

/// A scenario as a launch snapshots it.
struct Snapshot {
    name: String,
    script: serde_json::Value,
}

/// What a launch wrote: its bulk id and each destination's message id, in order.
#[derive(Clone, Debug)]
pub struct Accepted {
    pub bulk_id: String,
    pub destinations: Vec<(String, String)>,
}

pub enum LaunchError {
    Invalid(Errors),
    Database(sqlx::Error),
}

impl From<sqlx::Error> for LaunchError {
    fn from(error: sqlx::Error) -> Self {
        Self::Database(error)
    }
}

/// Writes a launch and its calls, due from `sendAt` (or now) on the emulator's clock.
pub async fn insert_launch(pool: &PgPool, account_id: i64, launch: &Launch) -> Result<Accepted, LaunchError> {
    let ids: Vec<String> = launch.messages.iter().map(|m| m.scenario_id.clone()).collect();
    let found = sqlx::query!(
        "SELECT id, name, script FROM infobip_scenarios WHERE account_id = $1 AND id = ANY($2)",
        account_id,
        &ids
    )
    .fetch_all(pool)
    .await?;
    let scenarios: HashMap<String, Snapshot> = found
        .into_iter()
        .map(|row| {
            (
                row.id,
                Snapshot {
                    name: row.name,
                    script: row.script,
                },
            )
        })
        .collect();
    let mut errors = Errors::new();
    for (index, message) in launch.messages.iter().enumerate() {
        if !scenarios.contains_key(&message.scenario_id) {
            errors
                .entry(format!("messages[{index}].scenarioId"))
                .or_default()
                .push("no such scenario in this account".into());
        }
    }
    if !errors.is_empty() {
        return Err(LaunchError::Invalid(errors));
    }
    let bulk_id = launch.bulk_id.clone().unwrap_or_else(new_id);
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query!(
        "INSERT INTO infobip_launches (account_id, bulk_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        account_id,
        bulk_id
    )
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(LaunchError::Invalid(
            [(
                "bulkId".to_owned(),
                vec!["already used by an earlier launch".to_owned()],
            )]
            .into(),
        ));
    }
    let mut destinations = Vec::new();
    for message in &launch.messages {
        let scenario = &scenarios[&message.scenario_id];
        let retry = message.retry;
        let row = sqlx::query_scalar!(
            "INSERT INTO infobip_messages (account_id, bulk_id, scenario_id, scenario_name, script, from_number, parameters,
                 notify_url, notify_content_type, notify_content_version, callback_data, valid_until,
                 retry_min_minutes, retry_max_minutes, retry_max_count)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
                     GREATEST($12, emulator_now()) + make_interval(mins => $13::int4), $14, $15, $16)
             RETURNING id",
            account_id,
            bulk_id,
            message.scenario_id,
            scenario.name,
            scenario.script,
            message.from,
            serde_json::to_value(&message.parameters).expect("strings always serialize"),
            message.notify_url,
            message.notify_content_type,
            message.notify_content_version,
            message.callback_data,
            message.send_at,
            message.validity_minutes.map(|m| m as i32),
            retry.map(|r| r.min_minutes as i32),
            retry.map(|r| r.max_minutes as i32),
            retry.map_or(0, |r| r.max_count as i32),
        )
        .fetch_one(&mut *tx)
        .await?;
        let message_ids: Vec<String> = message
            .destinations
            .iter()
            .map(|d| d.message_id.clone().unwrap_or_else(new_id))
            .collect();
        let numbers: Vec<String> = message.destinations.iter().map(|d| d.to.clone()).collect();
        let spacing = message.spacing.unwrap_or_default().as_secs_f64();
        let offsets: Vec<f64> = (0..numbers.len()).map(|i| i as f64 * spacing).collect();
        sqlx::query!(
            "INSERT INTO infobip_calls (message_row, account_id, bulk_id, message_id, to_number, due_at)
             SELECT $1, $2, $3, d.message_id, d.to_number, GREATEST($4, emulator_now()) + make_interval(secs => d.offset_seconds)
             FROM unnest($5::text[], $6::text[], $7::float8[]) AS d(message_id, to_number, offset_seconds)",
            row,
            account_id,
            bulk_id,
            message.send_at,
            &message_ids,
            &numbers,
            &offsets,
        )
        .execute(&mut *tx)
        .await?;
        destinations.extend(numbers.into_iter().zip(message_ids));
    }
    tx.commit().await?;
    Ok(Accepted { bulk_id, destinations })
}

/// Infobip's ids look like UUIDs.
fn new_id() -> String {
    Uuid::new_v4().to_string()
}

/// A call claimed to be played, with its message's settings.
#[derive(Clone, Debug)]
pub struct ClaimedCall {
    pub id: i64,
    pub lease_token: Uuid,
    pub bulk_id: String,
    pub message_id: String,
    pub to: String,
    /// Calls placed, this one included.
    pub attempt: i32,
    pub sent_at: DateTime<Utc>,
    /// The emulator's time when it was claimed.
    pub now: DateTime<Utc>,
    pub last_error: Option<String>,
    pub scenario_id: String,
    pub scenario_name: String,
    pub script: serde_json::Value,
    pub from: Option<String>,
    pub parameters: serde_json::Value,
    pub callback_data: Option<String>,
    pub notify_content_type: String,
    pub notify_content_version: i32,
    pub valid_until: Option<DateTime<Utc>>,
    pub retry: Option<Retry>,
}

/// Claims up to `limit` calls due on the emulator's clock.
pub async fn claim(pool: &PgPool, limit: i64, lease: Duration) -> sqlx::Result<Vec<ClaimedCall>> {
    let lease_token = Uuid::new_v4();
    let rows = sqlx::query!(
        r#"WITH due AS (
               SELECT id FROM infobip_calls
               WHERE status = 'pending' AND due_at <= emulator_now()
                 AND (lease_token IS NULL OR claimed_at < now() - make_interval(secs => $3))
               ORDER BY due_at
               LIMIT $1
               FOR UPDATE SKIP LOCKED
           )
           UPDATE infobip_calls c
           SET lease_token = $2, claimed_at = now(), attempts = c.attempts + 1, sent_at = COALESCE(c.sent_at, emulator_now())
           FROM due, infobip_messages m
           WHERE c.id = due.id AND m.id = c.message_row
           RETURNING c.id, c.bulk_id, c.message_id, c.to_number, c.attempts, c.sent_at AS "sent_at!", c.last_error,
                     emulator_now() AS "now!", m.scenario_id, m.scenario_name, m.script, m.from_number, m.parameters,
                     m.callback_data, m.notify_content_type, m.notify_content_version, m.valid_until,
                     m.retry_min_minutes, m.retry_max_minutes, m.retry_max_count"#,
        limit,
        lease_token,
        lease.as_secs_f64(),
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| ClaimedCall {
            id: row.id,
            lease_token,
            bulk_id: row.bulk_id,
            message_id: row.message_id,
            to: row.to_number,
            attempt: row.attempts,
            sent_at: row.sent_at,
            now: row.now,
            last_error: row.last_error,
            scenario_id: row.scenario_id,
            scenario_name: row.scenario_name,
            script: row.script,
            from: row.from_number,
            parameters: row.parameters,
            callback_data: row.callback_data,
            notify_content_type: row.notify_content_type,
            notify_content_version: row.notify_content_version,
            valid_until: row.valid_until,
            retry: match (row.retry_min_minutes, row.retry_max_minutes) {
                (Some(min), Some(max)) => Some(Retry {
                    min_minutes: i64::from(min),
                    max_minutes: i64::from(max),
                    max_count: i64::from(row.retry_max_count),
                }),
                _ => None,
            },
        })
        .collect())
}

/// How one claimed call ended: for good (with its report) or until a retry.
#[derive(Clone, Debug)]
pub struct Ended {
    pub id: i64,
    pub lease_token: Uuid,
    /// `pending` for a retry, else the final status.
    pub status: &'static str,
    /// On the emulator's clock, for a retry.
    pub retry_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub transcript: Option<serde_json::Value>,
    pub report: Option<serde_json::Value>,
    pub payload: Option<String>,
}

/// Ends a batch of calls in one statement; each report is queued with it.
/// Returns how many held their claim.
pub async fn finish(pool: &PgPool, ended: &[Ended]) -> sqlx::Result<u64> {
    let ids: Vec<i64> = ended.iter().map(|e| e.id).collect();
    let tokens: Vec<Uuid> = ended.iter().map(|e| e.lease_token).collect();
    let statuses: Vec<&str> = ended.iter().map(|e| e.status).collect();
    let retry_at: Vec<Option<DateTime<Utc>>> = ended.iter().map(|e| e.retry_at).collect();
    let errors: Vec<Option<String>> = ended.iter().map(|e| e.last_error.clone()).collect();
    let transcripts: Vec<Option<String>> = ended
        .iter()
        .map(|e| e.transcript.as_ref().map(|t| t.to_string()))
        .collect();
    let report_ids: Vec<Uuid> = ended.iter().map(|_| Uuid::new_v4()).collect();
    let reports: Vec<Option<String>> = ended.iter().map(|e| e.report.as_ref().map(|r| r.to_string())).collect();
    let payloads: Vec<Option<String>> = ended.iter().map(|e| e.payload.clone()).collect();
    let held = sqlx::query_scalar!(
        r#"WITH ended AS (
               SELECT * FROM unnest($1::int8[], $2::uuid[], $3::text[], $4::timestamptz[], $5::text[], $6::text[],
                                    $7::uuid[], $8::text[], $9::text[])
                   AS e(id, lease_token, status, retry_at, error, transcript, report_id, report, payload)
           ), done AS (
               UPDATE infobip_calls c
               SET status = e.status, lease_token = NULL, last_error = e.error,
                   due_at = COALESCE(e.retry_at, c.due_at),
                   transcript = COALESCE(e.transcript::jsonb, c.transcript),
                   done_at = CASE WHEN e.status <> 'pending' THEN now() END
               FROM ended e
               WHERE c.id = e.id AND c.lease_token = e.lease_token
               RETURNING c.id, c.account_id, c.bulk_id, c.message_id, c.message_row
           ), reported AS (
               INSERT INTO infobip_reports (id, call_id, account_id, bulk_id, message_id, report, url, content_type, payload, status)
               SELECT e.report_id, d.id, d.account_id, d.bulk_id, d.message_id, e.report::jsonb, m.notify_url,
                      m.notify_content_type, e.payload, CASE WHEN m.notify_url IS NULL THEN 'unsent' ELSE 'queued' END
               FROM done d JOIN ended e ON e.id = d.id JOIN infobip_messages m ON m.id = d.message_row
               WHERE e.report IS NOT NULL
           )
           SELECT count(*) AS "held!" FROM done"#,
        &ids,
        &tokens,
        &statuses as &[&str],
        &retry_at as &[Option<DateTime<Utc>>],
        &errors as &[Option<String>],
        &transcripts as &[Option<String>],
        &report_ids,
        &reports as &[Option<String>],
        &payloads as &[Option<String>],
    )
    .fetch_one(pool)
    .await?;
    Ok(held as u64)
}
