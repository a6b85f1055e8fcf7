//! Tata Smartflo (docs/smartflo.md): login and bearer tokens, IVRs created,
//! read, updated and deleted with Smartflo's rules and error shape, and the
//! numbers that answer with them, played as TwiML (so the call simulator,
//! or any Twilio-like player, can call a Smartflo number).

/// An IVR: its body's rules and its stored shape.
pub mod ivr;
/// The SQL, private to this surface.
pub mod storage;
/// A call to a Smartflo number, as TwiML.
pub mod voice;
/// `/smartflo/…`.
pub mod routes;
