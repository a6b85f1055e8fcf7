//! The hook's request types: each is built only by `parse`.

mod call_context;
mod ivr_request;

pub use call_context::{CallContext, CallContextError};
pub use ivr_request::{IvrRequest, RawField, RawIvrRequest};
