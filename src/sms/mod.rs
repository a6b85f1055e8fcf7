//! Welcome SMS: what is sent ([`welcome`]) and the durable queue it waits in
//! ([`outbox`]). Delivery (worker, transports) plugs in beside these.

pub mod outbox;
pub mod welcome;
