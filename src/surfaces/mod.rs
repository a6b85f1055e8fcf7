//! The external systems the gateway emulates, one module each. A surface
//! depends on the platform, never on another surface.

/// The Instaply IVR hook (`/v1/ivr`) and the welcome SMS it queues.
pub mod instaply_ivr;
/// The Instaply messaging side: threads, the Bot API, webhooks.
pub mod instaply_messaging;
/// The call simulator: plays TwiML as Twilio would, against a persona.
pub mod simulator;
/// Tata Smartflo: IVR definitions, and the numbers that answer with them.
pub mod smartflo;
/// Infobip voice: IVR scenarios (launches and reports are not built yet).
pub mod infobip;
