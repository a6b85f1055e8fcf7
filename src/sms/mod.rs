//! Welcome SMS: what is sent ([`welcome`]), the durable queue it waits in
//! ([`outbox`], [`queue`]), and its delivery ([`worker`], [`transport`],
//! [`retry`], [`counters`]).

pub mod counters;
pub mod outbox;
pub mod queue;
pub mod retry;
pub mod transport;
pub mod welcome;
pub mod worker;
