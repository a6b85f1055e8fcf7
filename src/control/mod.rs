//! The test double's controls, which span every surface: the admin API,
//! fixtures, inspection, live events and retention.

/// `/`: the dashboard over the admin API.
pub mod dashboard;
/// `/admin`: tenants, fixtures, inspection, events, reset.
pub mod admin;
/// The fixtures document.
pub mod fixtures;
/// The admin API's listings: SQL only.
pub mod inspection;
/// Live events, from NOTIFY to Server-Sent Events.
pub mod events;
/// `GET /metrics`.
pub mod metrics;
/// Pruning old journal rows and delivered SMS.
pub mod retention;
