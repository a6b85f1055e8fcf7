//! Welcome SMS: what is sent ([`welcome`]), the durable queue it waits in
//! ([`queue`], written by [`crate::db::calls`]), and the transports that send
//! it ([`transport`]). The generic [`crate::outbox`] drains the queue.

pub mod queue;
pub mod transport;
pub mod welcome;

/// The worker that drains the welcome SMS outbox.
pub type Worker = crate::outbox::Worker<queue::SmsOutbox, transport::Transport>;
