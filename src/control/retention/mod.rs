//! The background pruner: every so often, deletes what is older than
//! `IVR_RETENTION` (see [`crate::control::retention::storage::prune`]).

use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;

/// The pruning statements.
pub mod storage;

/// Runs one pass now and then every `retention / 24` (between 1 minute and
/// 1 hour), until `shutdown` turns true. A zero `age` keeps everything.
pub async fn run(pool: PgPool, age: Duration, cooldown: Duration, mut shutdown: watch::Receiver<bool>) {
    if age.is_zero() {
        return;
    }
    let every = (age / 24).clamp(Duration::from_secs(60), Duration::from_secs(3600));
    loop {
        match storage::prune(&pool, age, cooldown).await {
            Ok(Some(pruned)) if pruned != Default::default() => tracing::info!(?pruned, "pruned old rows"),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "cannot prune old rows; will try again"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}
