//! The Instaply IVR hook (`/v1/ivr`, docs/ivr-hook.md): a call from HTTP to
//! the journal, and the welcome SMS it queues.

/// The hook's request types.
pub mod domain;
/// `/v1/ivr`: decoding a request from query, form or JSON, and the answer.
pub mod routes;
/// The hook's logic, independent of HTTP.
pub mod hook;
/// TwiML answers.
pub mod twiml;
/// The call journal and its batch statement (welcome SMS and cool-down included).
pub mod journal;
/// The welcome SMS: its text, its queue and its transports.
pub mod sms;
/// The hook's metrics.
pub mod metrics;
