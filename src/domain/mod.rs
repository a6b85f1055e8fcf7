//! Types that cannot hold an invalid value: each is built only by `parse`.

mod api_key;
mod call_context;
mod field_errors;
mod ivr_request;
mod phone;
mod texts;

pub use api_key::{ApiKey, ApiKeyError, KeyHash};
pub use call_context::{CallContext, CallContextError};
pub use field_errors::FieldErrors;
pub use ivr_request::{IvrRequest, RawField, RawIvrRequest};
pub use phone::{PhoneNumber, PhoneNumberError, PhoneValidation};
pub use texts::{Name, TextError, WelcomeTemplate};
