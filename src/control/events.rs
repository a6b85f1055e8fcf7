//! Live events (`GET /admin/events`): new calls, new SMS and SMS status
//! changes, new thread messages and event deliveries' changes, read from `NOTIFY ivr_events` so that every replica sees every
//! event, and fanned out to this process's subscribers.
//!
//! One hub per process, started by the first subscriber, following the
//! channel through the process's [`Notifications`]. It reads each notified
//! row once and hands subscribers a ready-made Server-Sent Events frame.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use sqlx::PgPool;
use tokio::sync::{broadcast, watch};

use crate::platform::notifications::{Notice, Notifications, Subscription};

use crate::control::inspection;
use crate::surfaces::instaply_ivr::sms::queue::SmsStatus;
use crate::surfaces::instaply_messaging::storage::inspection as messaging;

/// Sent by statement triggers on `calls` and `sms_outbox`.
pub const CHANNEL: &str = "ivr_events";
/// Frames a slow subscriber may fall behind by before it is told it missed some.
const BACKLOG: usize = 1024;

/// An SSE frame: `event: call|sms|message|delivery|simulation`, `data: <the item as the admin API lists it>`.
pub type Frame = Arc<str>;

pub struct EventHub {
    frames: broadcast::Sender<Frame>,
    listening: watch::Receiver<bool>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Changed {
    /// Calls journaled by one statement.
    Call { ids: Vec<i64> },
    /// SMS queued, or whose status changed, in one statement, with the
    /// status the change gave them (the row may have moved on since).
    Sms {
        ids: Vec<uuid::Uuid>,
        status: Option<String>,
    },
    /// Messages written to customer threads by one statement.
    Message { ids: Vec<i64> },
    /// Calls played by the simulator.
    Simulation { ids: Vec<i64> },
    /// Infobip calls launched or ended, by launch: (account id, bulk id).
    Infobip { launches: Vec<(i64, String)> },
    /// Event deliveries queued, or whose status changed.
    Delivery {
        ids: Vec<uuid::Uuid>,
        status: Option<String>,
    },
}

impl EventHub {
    /// Follows [`CHANNEL`]; must be called inside the Tokio runtime.
    pub fn start(pool: PgPool, notifications: &Notifications) -> Self {
        let (frames, _) = broadcast::channel(BACKLOG);
        let (listening_tx, listening) = watch::channel(false);
        tokio::spawn(fan_out(
            pool,
            notifications.subscribe(CHANNEL),
            frames.clone(),
            listening_tx,
        ));
        Self { frames, listening }
    }

    /// Subscribes once the listener is in place (or after `patience`), so that
    /// a subscriber sees every event committed after it was answered.
    pub async fn subscribe(&self, patience: Duration) -> broadcast::Receiver<Frame> {
        let mut listening = self.listening.clone();
        let _ = tokio::time::timeout(patience, listening.wait_for(|ready| *ready)).await;
        self.frames.subscribe()
    }
}

async fn fan_out(
    pool: PgPool,
    mut events: Subscription,
    frames: broadcast::Sender<Frame>,
    listening: watch::Sender<bool>,
) {
    while let Some(notice) = events.recv().await {
        match notice {
            Notice::Listening => {
                let _ = listening.send(true);
            }
            Notice::Lost => {
                let _ = listening.send(false);
            }
            Notice::Notified(payload) => {
                for frame in render(&pool, &payload).await {
                    let _ = frames.send(frame);
                }
            }
            // Events are not replayed: a subscriber that falls behind misses some.
            Notice::Missed => {}
        }
    }
    let _ = listening.send(false);
}

/// Reads the notified rows and renders their frames, skipping rows gone
/// (pruned or reset meanwhile) or unread (the database did not answer).
async fn render(pool: &PgPool, payload: &str) -> Vec<Frame> {
    let mut rendered = Vec::new();
    match serde_json::from_str::<Changed>(payload) {
        Ok(Changed::Call { ids }) => {
            for id in ids {
                if let Ok(Some(call)) = inspection::call(pool, id).await {
                    rendered.extend(frame("call", &call));
                }
            }
        }
        Ok(Changed::Sms { ids, status }) => {
            for id in ids {
                if let Ok(Some(mut sms)) = inspection::one_sms(pool, id).await {
                    // The event reports the status it is about, not a later one.
                    if let Some(status) = &status
                        && *status != sms.status
                    {
                        sms.status.clone_from(status);
                        if status != SmsStatus::Delivered.as_str() {
                            sms.delivered_at = None;
                        }
                    }
                    rendered.extend(frame("sms", &sms));
                }
            }
        }
        Ok(Changed::Message { ids }) => {
            for id in ids {
                if let Ok(Some(message)) = messaging::message(pool, id).await {
                    rendered.extend(frame("message", &message));
                }
            }
        }
        Ok(Changed::Simulation { ids }) => {
            for id in ids {
                if let Ok(Some(simulation)) = crate::surfaces::simulator::storage::get(pool, id).await {
                    rendered.extend(frame("simulation", &simulation));
                }
            }
        }
        Ok(Changed::Infobip { launches }) => {
            for (_, bulk_id) in launches {
                if let Ok(found) = crate::surfaces::infobip::reports::launches(pool, Some(&bulk_id), 10).await {
                    for launch in found {
                        rendered.extend(frame("infobip", &launch));
                    }
                }
            }
        }
        Ok(Changed::Delivery { ids, status }) => {
            for id in ids {
                if let Ok(Some(mut delivery)) = messaging::delivery(pool, id).await {
                    if let Some(status) = &status {
                        delivery.status.clone_from(status);
                    }
                    rendered.extend(frame("delivery", &delivery));
                }
            }
        }
        Err(_) => {}
    }
    rendered
}

fn frame(event: &str, item: &impl serde::Serialize) -> Option<Frame> {
    let data = serde_json::to_string(item).ok()?;
    Some(format!("event: {event}\ndata: {data}\n\n").into())
}
