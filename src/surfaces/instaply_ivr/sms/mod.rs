//! Welcome SMS: what is sent ([`welcome`]), the durable queue it waits in
//! ([`queue`], written by [`crate::surfaces::instaply_ivr::journal`]), and the transports that send
//! it ([`transport`]). The generic [`crate::platform::outbox`] drains the queue.

pub mod queue;
pub mod transport;
pub mod welcome;

/// The worker that drains the welcome SMS outbox.
pub type Worker = crate::platform::outbox::Worker<queue::SmsOutbox, transport::Transport>;
