//! The messaging side's SQL, private to it.

pub mod deliveries;
pub mod inspection;
pub mod messages;
pub mod mirror;
pub mod sends;
pub mod threads;
pub mod webhooks;
