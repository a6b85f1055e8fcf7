//! ivr-gateway: the Instaply IVR hook (`/v1/ivr`) on PostgreSQL.
//!
//! A tour, from the outside in:

/// What `serve` says once it answers.
mod banner;
/// The subcommands.
pub mod commands;
/// Command line and environment settings.
pub mod configuration;
/// Repository functions: SQL only.
pub mod db;
/// Keys and store routes in memory, dropped on every change.
pub mod directory_cache;
/// Types that cannot be invalid: phone numbers, API keys, requests.
pub mod domain;
/// The private PostgreSQL cluster used when there is no DATABASE_URL.
pub mod embedded_postgres;
/// Live events of calls and SMS, from NOTIFY to Server-Sent Events.
pub mod events;
/// The fixtures document.
pub mod fixtures;
/// One commit per batch of calls instead of one per call.
pub mod group_commit;
/// The hook's logic, independent of HTTP.
pub mod hook;
/// Calling a hook as an IVR platform would, and transcribing the answer.
pub mod ivr_client;
/// Prometheus metrics.
pub mod metrics;
/// One LISTEN connection per process, fanned out to whoever follows a channel.
pub mod notifications;
/// Durable delivery of what surfaces send: leased claims, fenced finishes,
/// retries, group-committed records; each surface brings its queue and transports.
pub mod outbox;
/// The per-key rate limit.
pub mod rate_limit;
/// Pruning old journal rows and delivered SMS.
pub mod retention;
/// HTTP routes, one module per resource.
pub mod routes;
/// Values that `Debug` and logs never show.
pub mod secret;
/// The welcome SMS: its text, its queue and its transports.
pub mod sms;
/// Builds the HTTP server around the shared [`startup::AppState`].
pub mod startup;
/// Logging and the redacted access log.
pub mod telemetry;
/// Twilio's request signatures.
pub mod twilio_signature;
/// TwiML answers.
pub mod twiml;
