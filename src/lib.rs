//! ivr-gateway: the Instaply IVR hook (`/v1/ivr`) on PostgreSQL, and the
//! emulator of what surrounds it. `docs/ivr-hook.md` is the contract.
//!
//! A tour in reading order: how the process starts, what a call does, how
//! what it queues is delivered, and the shared machinery under both.

// How the process starts.
/// Command line and environment settings, checked before anything starts.
pub mod configuration;
/// The subcommands: serve, worker, migrate, seed, call, keys, sms, ready.
pub mod commands;
/// What `serve` says once it answers.
mod banner;
/// Builds the application from its settings: state, HTTP server, background work.
pub mod startup;

// The IVR hook: a call, from HTTP to the journal.
/// HTTP routes, one module per resource: the hook, the admin API, health, metrics.
pub mod routes;
/// Types that cannot be invalid: phone numbers, API keys, requests.
pub mod domain;
/// The hook's logic, independent of HTTP.
pub mod hook;
/// Twilio's request signatures.
pub mod twilio_signature;
/// TwiML answers.
pub mod twiml;
/// Keys and store routes in memory, dropped on every change.
pub mod directory_cache;
/// The per-key rate limit.
pub mod rate_limit;
/// One commit per batch of calls (or ended attempts) instead of one per item.
pub mod group_commit;

// What a call queues, and its delivery.
/// The welcome SMS: its text, its queue and its transports.
pub mod sms;
/// Durable delivery of what surfaces send: leased claims, fenced finishes,
/// retries, group-committed records; each surface brings its queue and transports.
pub mod outbox;

// The test double around the hook.
/// The fixtures document.
pub mod fixtures;
/// Live events of calls and SMS, from NOTIFY to Server-Sent Events.
pub mod events;
/// Pruning old journal rows and delivered SMS.
pub mod retention;
/// Calling a hook as an IVR platform would, and transcribing the answer.
pub mod ivr_client;

// Shared machinery.
/// Repository functions: SQL only.
pub mod db;
/// One LISTEN connection per process, fanned out to whoever follows a channel.
pub mod notifications;
/// The private PostgreSQL cluster used when there is no DATABASE_URL.
pub mod embedded_postgres;
/// Values that `Debug` and logs never show.
pub mod secret;
/// Closed vocabularies declared once (outcomes, statuses).
mod vocabulary;
/// Logging and the redacted access log.
pub mod telemetry;
/// Prometheus metrics.
pub mod metrics;
