//! `LISTEN` for the whole process: one connection, whatever the number of
//! channels and subscribers, reconnected with back-off when it is lost.
//!
//! A channel is listened to from its first subscriber on (a busy channel
//! nobody follows costs nothing). Each subscriber sees, in order, when its
//! channel starts being listened to ([`Notice::Listening`]), each
//! notification, and when the connection is lost ([`Notice::Lost`]):
//! notifications sent meanwhile are gone, so a subscriber that keeps state
//! (a cache) must treat `Lost` and the next `Listening` as "anything may
//! have changed".

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{broadcast, mpsc};

/// Connections the listener holds: one, whatever it listens to.
pub const CONNECTIONS: usize = 1;
/// Notifications a subscriber may fall behind by before it is told it missed some.
const BACKLOG: usize = 1024;
/// Back-off between connection attempts: from the first, doubling to the last.
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const LONGEST_PAUSE: Duration = Duration::from_secs(5);

/// What a subscriber hears about its channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// The channel is listened to from now on (again, after a loss).
    Listening,
    /// A notification, with its payload.
    Notified(Arc<str>),
    /// The subscriber fell behind and some notifications were dropped.
    Missed,
    /// The connection is lost: notifications until the next `Listening` are gone.
    Lost,
}

/// A handle on the process's listener; cheap to clone.
#[derive(Clone)]
pub struct Notifications {
    inner: Arc<Inner>,
}

struct Inner {
    channels: Mutex<HashMap<&'static str, Channel>>,
    /// Channels to add to the connection's LISTENs.
    requests: mpsc::UnboundedSender<&'static str>,
}

struct Channel {
    notices: broadcast::Sender<Notice>,
    listening: bool,
}

impl Notifications {
    /// Starts the listener task (inside the Tokio runtime); it connects once
    /// a channel is subscribed to, and stops once every handle and every
    /// subscription is dropped.
    pub fn start(pool: PgPool) -> Self {
        let (requests, pending) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            channels: Mutex::default(),
            requests,
        });
        tokio::spawn(listen(pool, Arc::downgrade(&inner), pending));
        Self { inner }
    }

    /// Follows `channel`. The first notice is `Listening` once the channel is
    /// listened to (at once, if it already is).
    pub fn subscribe(&self, channel: &'static str) -> Subscription {
        let mut channels = self.inner.lock();
        let state = channels.entry(channel).or_insert_with(|| {
            let _ = self.inner.requests.send(channel);
            Channel {
                notices: broadcast::channel(BACKLOG).0,
                listening: false,
            }
        });
        Subscription {
            pending: state.listening.then_some(Notice::Listening),
            notices: state.notices.subscribe(),
            _listener: self.inner.clone(),
        }
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, Channel>> {
        // Every change is one call: a panic elsewhere leaves nothing half-done.
        self.channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sends `notice` to `channel`'s subscribers, recording its state.
    fn tell(&self, channel: &str, notice: Notice) {
        let mut channels = self.lock();
        if let Some(state) = channels.get_mut(channel) {
            match notice {
                Notice::Listening => state.listening = true,
                Notice::Lost => state.listening = false,
                Notice::Notified(_) | Notice::Missed => {}
            }
            let _ = state.notices.send(notice);
        }
    }
}

/// One subscriber's view of one channel. It keeps the listener running.
pub struct Subscription {
    pending: Option<Notice>,
    notices: broadcast::Receiver<Notice>,
    _listener: Arc<Inner>,
}

impl Subscription {
    /// The next notice; `None` if the listener has stopped.
    pub async fn recv(&mut self) -> Option<Notice> {
        if let Some(notice) = self.pending.take() {
            return Some(notice);
        }
        match self.notices.recv().await {
            Ok(notice) => Some(notice),
            Err(broadcast::error::RecvError::Lagged(_)) => Some(Notice::Missed),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

async fn listen(pool: PgPool, inner: Weak<Inner>, mut requests: mpsc::UnboundedReceiver<&'static str>) {
    let mut channels: Vec<&'static str> = Vec::new();
    // Nothing to listen to before the first subscriber.
    match requests.recv().await {
        Some(channel) => channels.push(channel),
        None => return,
    }
    let mut pause = FIRST_PAUSE;
    loop {
        while let Ok(channel) = requests.try_recv() {
            channels.push(channel);
        }
        if let Ok(mut listener) = connect(&pool, &channels).await {
            pause = FIRST_PAUSE;
            let Some(live) = inner.upgrade() else { return };
            for channel in &channels {
                live.tell(channel, Notice::Listening);
            }
            drop(live);
            let stopped = relay(&mut listener, &inner, &mut requests, &mut channels).await;
            let Some(live) = inner.upgrade() else { return };
            for channel in &channels {
                live.tell(channel, Notice::Lost);
            }
            if stopped {
                return;
            }
        }
        // Jittered, so that replicas cut off together do not reconnect in step.
        tokio::time::sleep(pause.mul_f64(0.5 + fastrand::f64() / 2.0)).await;
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

async fn connect(pool: &PgPool, channels: &[&'static str]) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect_with(pool).await?;
    // A lost connection ends `relay`, which reconnects here with back-off.
    listener.eager_reconnect(false);
    listener.listen_all(channels.iter().copied()).await?;
    Ok(listener)
}

/// Relays notifications until the connection is lost (`false`) or every
/// handle is dropped (`true`), adding channels as they are first subscribed.
async fn relay(
    listener: &mut PgListener,
    inner: &Weak<Inner>,
    requests: &mut mpsc::UnboundedReceiver<&'static str>,
    channels: &mut Vec<&'static str>,
) -> bool {
    loop {
        tokio::select! {
            // Both arms are cancel-safe: an unfinished read stays buffered.
            request = requests.recv() => {
                let Some(channel) = request else { return true };
                channels.push(channel);
                if listener.listen(channel).await.is_err() {
                    return false;
                }
                let Some(live) = inner.upgrade() else { return true };
                live.tell(channel, Notice::Listening);
            }
            received = listener.try_recv() => {
                let Ok(Some(notification)) = received else { return false };
                let Some(live) = inner.upgrade() else { return true };
                live.tell(notification.channel(), Notice::Notified(notification.payload().into()));
            }
        }
    }
}
