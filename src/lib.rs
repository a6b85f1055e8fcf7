//! ivr-gateway: the Instaply IVR hook (`/v1/ivr`) on PostgreSQL, and the
//! emulator of what surrounds it. `docs/` holds one page per surface.
//!
//! A tour in reading order: how the process starts, the surfaces it serves,
//! the controls of the test double around them, and the platform under all.

// How the process starts.
/// Command line and environment settings, checked before anything starts.
pub mod configuration;
/// The subcommands: serve, worker, migrate, seed, call, keys, sms, ready.
pub mod commands;
/// What `serve` says once it answers.
mod banner;
/// Builds the application from its settings; the one place that knows every surface.
pub mod startup;
/// The OpenAPI document of every route.
pub mod openapi;
/// `ivr-gateway call`: one hook call played by the simulator's engine.
pub mod call;

/// The external systems the gateway emulates, one module each.
pub mod surfaces;
/// The test double's controls: admin API, fixtures, inspection, events, retention.
pub mod control;
/// What every surface stands on: HTTP edge, database, group commit, outbox,
/// directory, telemetry.
pub mod platform;
