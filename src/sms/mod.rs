//! Welcome SMS: what is sent ([`welcome`]), the durable queue it waits in
//! ([`queue`], written by [`crate::db::calls`]), and its delivery ([`worker`], [`transport`],
//! [`retry`], [`counters`]).

pub mod counters;
pub mod queue;
pub mod retry;
pub mod transport;
pub mod welcome;
pub mod worker;
