//! Types that cannot hold an invalid value: each is built only by `parse`.

mod api_key;
mod field_errors;
mod phone;
mod texts;

pub use api_key::{ApiKey, ApiKeyError, KeyHash};
pub use field_errors::FieldErrors;
pub use phone::{PhoneNumber, PhoneNumberError, PhoneValidation};
pub use texts::{Name, TextError, WelcomeTemplate};
