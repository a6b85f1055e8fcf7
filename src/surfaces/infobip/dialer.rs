//! Places launched calls: claims those due on the emulator's clock, has
//! them played (by the call simulator, through [`CallPlayer`]), and ends
//! each one: delivered, retried on the ladder while busy or unanswered and
//! valid, or undeliverable, rejected or expired, with its report queued in
//! the same statement. Several dialers (replicas) share the queue: claims
//! skip locked rows and every end is fenced by its claim. On shutdown the
//! batch in hand is played and recorded; nothing claimed is left behind.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::{Notify, watch};

use super::calls::{self, ClaimedCall, Ended};
use super::report::{self, Facts, Fate, Pickup};
use crate::platform::clock;
use crate::platform::notifications::{Notice, Notifications, Subscription};
use crate::platform::telemetry::Chain;

/// The channel a launch's insert announces new calls on.
pub const DUE_CHANNEL: &str = "infobip_calls_due";
/// Calls claimed at once.
pub const BATCH: i64 = 256;
/// A claim not ended within this is taken over (a dialer that died).
pub const LEASE: Duration = Duration::from_secs(120);
/// Scheduled calls are looked for this often even without a notice (the
/// clock may run faster than real time).
const POLL: Duration = Duration::from_millis(200);

/// One call to place: who, from whom, and the scenario to play.
#[derive(Clone, Debug)]
pub struct OutboundCall {
    pub from: String,
    pub to: String,
    pub script: Value,
    /// `${…}` values beside `to` and `from`: the launch's parameters.
    pub variables: BTreeMap<String, String>,
}

/// What placing a call gave.
#[derive(Clone, Debug)]
pub struct PlayedCall {
    pub pickup: Pickup,
    pub collected: Vec<(String, String)>,
    pub line_seconds: u32,
    pub transcript: Value,
}

/// Plays calls; `startup.rs` plugs in the call simulator.
pub trait CallPlayer: Send + Sync + 'static {
    /// Plays every call of a batch; answers in the same order. `Err` when
    /// none could be played (the database away): the batch is tried again.
    fn play(&self, calls: Vec<OutboundCall>) -> BoxFuture<'static, Result<Vec<PlayedCall>, String>>;
}

pub struct Dialer {
    pool: PgPool,
    player: Arc<dyn CallPlayer>,
}

impl Dialer {
    pub fn new(pool: PgPool, player: Arc<dyn CallPlayer>) -> Self {
        Self { pool, player }
    }

    pub fn run(
        self,
        notifications: &Notifications,
        shutdown: watch::Receiver<bool>,
    ) -> impl Future<Output = ()> + Send + 'static {
        let due = notifications.subscribe(DUE_CHANNEL);
        let moved = notifications.subscribe(clock::CHANGED_CHANNEL);
        async move {
            let wake = Arc::new(Notify::new());
            let listeners = [
                tokio::spawn(wake_on(due, wake.clone())),
                tokio::spawn(wake_on(moved, wake.clone())),
            ];
            let mut shutdown = shutdown;
            tracing::info!("Infobip dialer started");
            while !*shutdown.borrow() {
                match self.run_batch().await {
                    Ok(claimed) if claimed as i64 == BATCH => continue,
                    Ok(_) => {}
                    Err(error) => tracing::warn!(error = %Chain(&error), "Infobip dialer cannot reach the database"),
                }
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(POLL) => {}
                    _ = shutdown.wait_for(|stop| *stop) => {}
                }
            }
            for listener in listeners {
                listener.abort();
            }
            tracing::info!("Infobip dialer stopped");
        }
    }

    /// Claims one batch of due calls, plays them and ends them. Returns how many were claimed.
    pub async fn run_batch(&self) -> sqlx::Result<usize> {
        let claimed = calls::claim(&self.pool, BATCH, LEASE).await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        let (expired, to_play): (Vec<ClaimedCall>, Vec<ClaimedCall>) = claimed
            .into_iter()
            .partition(|call| call.valid_until.is_some_and(|until| call.now >= until));
        let mut ended: Vec<Ended> = expired.iter().map(expire).collect();
        let Some(played) = self.play(&to_play).await else {
            return Ok(0);
        };
        ended.extend(to_play.iter().zip(played).map(|(call, played)| end(call, played)));
        self.record(&ended).await;
        Ok(ended.len())
    }

    /// Plays the claimed calls, trying again while the player cannot (the
    /// claim is held meanwhile, so nobody else places them).
    /// `None` once half the lease is gone: the claim is left to run out.
    async fn play(&self, calls: &[ClaimedCall]) -> Option<Vec<PlayedCall>> {
        let mut pause = Duration::from_millis(50);
        let started = std::time::Instant::now();
        loop {
            match self.player.play(calls.iter().map(outbound).collect()).await {
                Ok(played) => return Some(played),
                Err(error) => {
                    tracing::warn!(%error, "cannot place Infobip calls yet");
                    if started.elapsed() > LEASE / 2 {
                        return None;
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
            }
        }
    }

    /// Ends the batch, trying again while the database is away: a played call
    /// that is not recorded would be played again once its lease runs out.
    async fn record(&self, ended: &[Ended]) {
        let mut pause = Duration::from_millis(50);
        for failures in 0.. {
            match calls::finish(&self.pool, ended).await {
                Ok(held) => {
                    if held < ended.len() as u64 {
                        tracing::warn!(
                            lost = ended.len() as u64 - held,
                            "Infobip calls taken over before they were recorded"
                        );
                    }
                    return;
                }
                Err(error) => {
                    if failures == 0 {
                        tracing::warn!(error = %Chain(&error), "cannot record played Infobip calls yet; keeping them");
                    }
                    // Past the lease another dialer plays them again: stop trying.
                    if pause * failures > LEASE {
                        return;
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
            }
        }
    }
}

async fn wake_on(mut notices: Subscription, wake: Arc<Notify>) {
    while let Some(notice) = notices.recv().await {
        if matches!(notice, Notice::Listening | Notice::Notified(_) | Notice::Missed) {
            wake.notify_one();
        }
    }
}

fn outbound(call: &ClaimedCall) -> OutboundCall {
    let variables = call
        .parameters
        .as_object()
        .map(|parameters| {
            parameters
                .iter()
                .filter_map(|(name, value)| Some((name.clone(), value.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    OutboundCall {
        from: call.from.clone().unwrap_or_default(),
        to: call.to.clone(),
        script: call.script.clone(),
        variables,
    }
}

/// A call whose validity ran out before it could be placed (again).
fn expire(call: &ClaimedCall) -> Ended {
    let last = call.last_error.as_deref().and_then(Pickup::parse);
    finished(call, Fate::Expired(last), call.now, 0, &[], None)
}

fn end(call: &ClaimedCall, played: PlayedCall) -> Ended {
    let fate = match played.pickup {
        Pickup::Answered => Fate::Delivered,
        Pickup::Failed => Fate::Rejected,
        busy_or_no_answer => {
            let retries_done = i64::from(call.attempt) - 1;
            match call.retry.filter(|retry| retries_done < retry.max_count) {
                Some(retry) => {
                    let wait = chrono::Duration::minutes(retry.wait_minutes(retries_done + 1));
                    // Due no later than the end of validity, where it expires.
                    let at = match call.valid_until {
                        Some(until) => (call.now + wait).min(until),
                        None => call.now + wait,
                    };
                    return retry_at(call, at, busy_or_no_answer, played.transcript);
                }
                None => Fate::Undeliverable(busy_or_no_answer),
            }
        }
    };
    let mut ended = finished(
        call,
        fate,
        call.now,
        played.line_seconds,
        &played.collected,
        Some(played.pickup),
    );
    ended.transcript = Some(played.transcript);
    ended
}

fn retry_at(call: &ClaimedCall, at: DateTime<Utc>, pickup: Pickup, transcript: Value) -> Ended {
    Ended {
        id: call.id,
        lease_token: call.lease_token,
        status: "pending",
        retry_at: Some(at),
        last_error: Some(pickup.as_str().to_owned()),
        transcript: Some(transcript),
        report: None,
        payload: None,
    }
}

fn finished(
    call: &ClaimedCall,
    fate: Fate,
    started_at: DateTime<Utc>,
    line_seconds: u32,
    collected: &[(String, String)],
    pickup: Option<Pickup>,
) -> Ended {
    let facts = Facts {
        bulk_id: &call.bulk_id,
        message_id: &call.message_id,
        from: call.from.as_deref(),
        to: &call.to,
        scenario_id: &call.scenario_id,
        scenario_name: &call.scenario_name,
        callback_data: call.callback_data.as_deref(),
        sent_at: call.sent_at,
        started_at,
        fate,
        line_seconds: if fate == Fate::Delivered {
            line_seconds.max(1)
        } else {
            0
        },
        collected,
    };
    let report = report::build(&facts);
    let payload = report::payload(&report, &call.notify_content_type, call.notify_content_version);
    Ended {
        id: call.id,
        lease_token: call.lease_token,
        status: fate.as_str(),
        retry_at: None,
        last_error: pickup.filter(|p| *p != Pickup::Answered).map(|p| p.as_str().to_owned()),
        transcript: None,
        report: Some(report),
        payload: Some(payload),
    }
}
