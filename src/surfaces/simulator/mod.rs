//! The call simulator (docs/simulator.md): plays a call against any TwiML
//! URL (this gateway's hook, an emulated IVR platform's number, anyone's
//! app) as Twilio would, driven by a persona, and writes a transcript.
//! The engine has no HTTP routes; the CLI and the admin API use it.

/// Who is on the line.
pub mod persona;
/// Reading TwiML into verbs.
pub mod twiml;
/// What happened, as JSON and text.
pub mod transcript;
/// Playing a call.
pub mod engine;
/// Simulations journaled: SQL only.
pub mod storage;
/// `/admin/simulations`.
pub mod routes;

pub use engine::{Call, play};
pub use persona::{Answer, Persona};
pub use transcript::{Ending, Step, Transcript};
