//! The call simulator (docs/simulator.md): plays a call against any TwiML
//! URL (this gateway's hook, an emulated IVR platform's number, anyone's
//! app) as Twilio would, driven by a persona, and writes a transcript.
//! It also plays IVR scenario scripts (Infobip's outbound IVR). Numbers'
//! personas come from fixtures or `/admin/personas`.

/// Who is on the line.
pub mod persona;
/// Reading TwiML into verbs.
pub mod twiml;
/// What happened, as JSON and text.
pub mod transcript;
/// Playing a call.
pub mod engine;
/// Playing an IVR scenario script (Infobip's actions).
pub mod script;
/// Simulations journaled: SQL only.
pub mod storage;
/// `/admin/simulations`.
pub mod routes;

pub use engine::{Call, play};
pub use persona::{Answer, Persona};
pub use script::{ScriptCall, ScriptOutcome, play_script};
pub use transcript::{Ending, Step, Transcript};
