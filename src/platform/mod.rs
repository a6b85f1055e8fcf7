//! What every surface stands on. Nothing here knows a surface: each surface
//! brings its own routes, statements, queues and metrics, and `startup.rs`
//! plugs them in.

/// Values that `Debug` and logs never show.
pub mod secret;
/// Closed vocabularies declared once (outcomes, statuses).
pub(crate) mod vocabulary;
/// Types that cannot be invalid: phone numbers, API keys, names.
pub mod domain;
/// The HTTP edge: bodies, content types, shared answers, health, metrics.
pub mod http;
/// The pool and the migrations.
pub mod db;
/// The private PostgreSQL cluster used when there is no DATABASE_URL.
pub mod embedded_postgres;
/// One LISTEN connection per process, fanned out to whoever follows a channel.
pub mod notifications;
/// One commit per batch of items instead of one per item.
pub mod group_commit;
/// The emulator's clock: scheduled work is measured on it, and tests move it.
pub mod clock;
/// Durable delivery: leased claims, fenced finishes, retries, group-committed records.
pub mod outbox;
/// Tenants (organizations, keys, stores), cached in memory and dropped on every change.
pub mod directory;
/// The per-key rate limit.
pub mod rate_limit;
/// Twilio's request signatures.
pub mod twilio_signature;
/// Logging and the redacted access log.
pub mod telemetry;
/// The Prometheus recorder and the series every surface declares.
pub mod metrics;
