//! Infobip voice (docs/infobip.md): App and Basic authentication with
//! Infobip's error shape, and IVR scenarios created, listed, read, updated
//! and deleted with their scripts checked. Launching scenarios, playing
//! their calls and delivery reports are not built yet.

/// A scenario's script and its rules.
pub mod scenario;
/// The SQL, private to this surface.
pub mod storage;
/// `/infobip/…`.
pub mod routes;
