//! The emulator's clock: what scheduled work (an Infobip launch's `sendAt`,
//! its validity, its retry waits) is measured on, so that tests and
//! integrators can move time instead of waiting for it. It lives in the
//! database (`emulator_now()`), so every replica reads the same time.
//! Everything else (leases, HTTP timeouts, webhook retries, journal
//! timestamps) keeps real time.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// The channel a change of the clock is announced on: schedulers look again.
pub const CHANGED_CHANNEL: &str = "emulator_clock";
/// The fastest the clock may run: a day in under a second.
pub const MAX_SPEED: f64 = 100_000.0;
/// The furthest one advance may move it.
pub const MAX_ADVANCE: Duration = Duration::from_secs(366 * 86_400);

/// The clock as `GET /admin/clock` shows it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ClockState {
    /// The emulator's time now.
    pub now: DateTime<Utc>,
    /// Real time now, for comparison.
    pub real_now: DateTime<Utc>,
    /// Emulated seconds per real second.
    pub speed: f64,
    /// How far ahead of real time the emulator's time is, in seconds.
    pub ahead_seconds: f64,
}

pub async fn state(pool: &PgPool) -> sqlx::Result<ClockState> {
    let row = sqlx::query!(r#"SELECT emulator_now() AS "now!", now() AS "real_now!", speed FROM emulator_clock"#)
        .fetch_one(pool)
        .await?;
    Ok(ClockState {
        now: row.now,
        real_now: row.real_now,
        speed: row.speed,
        ahead_seconds: (row.now - row.real_now).num_milliseconds() as f64 / 1000.0,
    })
}

/// Moves the emulator's time forward by `by`; what became due runs at once.
pub async fn advance(pool: &PgPool, by: Duration) -> sqlx::Result<ClockState> {
    sqlx::query!(
        "UPDATE emulator_clock SET anchor_emulated = emulator_now() + make_interval(secs => $1), anchor_real = now()",
        by.as_secs_f64()
    )
    .execute(pool)
    .await?;
    announce(pool).await?;
    state(pool).await
}

/// Sets how fast the emulator's time runs from now on (1 = real time).
pub async fn set_speed(pool: &PgPool, speed: f64) -> sqlx::Result<ClockState> {
    sqlx::query!(
        "UPDATE emulator_clock SET anchor_emulated = emulator_now(), anchor_real = now(), speed = $1",
        speed.clamp(f64::MIN_POSITIVE, MAX_SPEED)
    )
    .execute(pool)
    .await?;
    announce(pool).await?;
    state(pool).await
}

/// Back to real time at real speed (`POST /admin/reset`).
pub async fn reset(pool: &PgPool) -> sqlx::Result<()> {
    sqlx::query!("UPDATE emulator_clock SET anchor_emulated = now(), anchor_real = now(), speed = 1")
        .execute(pool)
        .await?;
    announce(pool).await
}

async fn announce(pool: &PgPool) -> sqlx::Result<()> {
    sqlx::query!("SELECT pg_notify('emulator_clock', '')")
        .execute(pool)
        .await?;
    Ok(())
}

/// Whether `speed` is one the clock accepts.
pub fn valid_speed(speed: f64) -> bool {
    speed.is_finite() && speed > 0.0 && speed <= MAX_SPEED
}
