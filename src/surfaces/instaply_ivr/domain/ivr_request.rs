//! The hook's input: [`RawIvrRequest`] as decoded from any source, and
//! [`IvrRequest`], which only exists once every field is valid.

use super::CallContext;
use crate::platform::domain::{ApiKey, FieldErrors, PhoneNumber, PhoneValidation};

/// One field as the decoder found it, before any rule is applied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum RawField {
    #[default]
    Absent,
    Text(String),
    /// JSON `null`.
    Null,
    /// Any other JSON value that is not a string, by its kind ("a number").
    NotAString(&'static str),
    /// Given more than once in one source: the gateway never picks one.
    Duplicate,
}

/// Longest value kept in the journal for a field that failed validation.
const JOURNAL_TEXT_MAX_CHARS: usize = 64;

impl RawField {
    pub fn is_absent(&self) -> bool {
        matches!(self, Self::Absent)
    }

    /// A bounded copy of a text value for the call journal: rejected input can
    /// be 16 KiB long or hold a NUL, which PostgreSQL `text` refuses.
    pub fn journal_text(&self) -> Option<String> {
        match self {
            Self::Text(text) => Some(
                text.chars()
                    .take(JOURNAL_TEXT_MAX_CHARS)
                    .map(|c| if c == '\0' { char::REPLACEMENT_CHARACTER } else { c })
                    .collect(),
            ),
            _ => None,
        }
    }

    /// What is wrong with a field that is present but unusable whatever its value.
    fn shape_error(&self) -> Option<String> {
        match self {
            Self::Null => Some("Must be a JSON string, not null".to_owned()),
            Self::NotAString(kind) => Some(format!("Must be a JSON string, not {kind}")),
            Self::Duplicate => Some("Duplicate parameter".to_owned()),
            Self::Absent | Self::Text(_) => None,
        }
    }
}

/// The four fields of a hook request, each as found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawIvrRequest {
    pub key: RawField,
    pub from: RawField,
    pub to: RawField,
    pub context: RawField,
}

impl RawIvrRequest {
    /// Fills each field this request lacks from `fallback` (the query string
    /// behind a POST body).
    pub fn or(self, fallback: RawIvrRequest) -> Self {
        let pick = |own: RawField, other: RawField| if own.is_absent() { other } else { own };
        Self {
            key: pick(self.key, fallback.key),
            from: pick(self.from, fallback.from),
            to: pick(self.to, fallback.to),
            context: pick(self.context, fallback.context),
        }
    }
}

/// A request whose every field passed validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IvrRequest {
    pub key: ApiKey,
    pub from: PhoneNumber,
    pub to: PhoneNumber,
    pub context: Option<CallContext>,
}

impl IvrRequest {
    /// Checks every field and reports all failures together, in the order
    /// `key`, `to`, `from`, `context`.
    pub fn parse(raw: &RawIvrRequest, level: PhoneValidation) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let key =
            required_text(&raw.key, "key", &mut errors).and_then(|text| keep(&mut errors, "key", ApiKey::parse(text)));
        let to = phone(&raw.to, "to", level, &mut errors);
        let from = phone(&raw.from, "from", level, &mut errors);
        let context = context(&raw.context, &mut errors);
        match (key, to, from, context) {
            (Some(key), Some(to), Some(from), Some(context)) => Ok(Self { key, from, to, context }),
            _ => Err(errors),
        }
    }
}

/// The value, or `None` with the error recorded under `field`.
fn keep<T, E: std::fmt::Display>(errors: &mut FieldErrors, field: &'static str, parsed: Result<T, E>) -> Option<T> {
    parsed.map_err(|e| errors.push(field, e.to_string())).ok()
}

fn required_text<'a>(field: &'a RawField, name: &'static str, errors: &mut FieldErrors) -> Option<&'a str> {
    match field {
        RawField::Text(text) if !text.is_empty() => Some(text),
        RawField::Absent | RawField::Text(_) => {
            errors.push(name, "Missing parameter");
            None
        }
        other => {
            errors.push(name, other.shape_error().unwrap_or_default());
            None
        }
    }
}

fn phone(
    field: &RawField,
    name: &'static str,
    level: PhoneValidation,
    errors: &mut FieldErrors,
) -> Option<PhoneNumber> {
    let text = required_text(field, name, errors)?;
    keep(errors, name, PhoneNumber::parse(text, level))
}

/// `Some(None)` when there is no context: absent, empty and null all mean that.
fn context(field: &RawField, errors: &mut FieldErrors) -> Option<Option<CallContext>> {
    match field {
        RawField::Text(text) if !text.is_empty() => keep(errors, "context", CallContext::parse(text)).map(Some),
        RawField::NotAString(_) | RawField::Duplicate => {
            errors.push("context", field.shape_error().unwrap_or_default());
            None
        }
        _ => Some(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> RawField {
        RawField::Text(value.to_owned())
    }

    #[test]
    fn reports_every_bad_field_at_once_in_a_stable_order() {
        let raw = RawIvrRequest {
            key: text("k"),
            from: text(" 14151234560"),
            ..Default::default()
        };
        let errors = IvrRequest::parse(&raw, PhoneValidation::Possible).unwrap_err();
        assert_eq!(
            errors.to_json(),
            r#"{"to":"Missing parameter","from":"Not an E.164 phone number: '+' must be URL-encoded as %2B in a query string"}"#
        );
    }

    #[test]
    fn json_types_other_than_string_are_named() {
        let raw = RawIvrRequest {
            key: RawField::Null,
            from: RawField::NotAString("a number"),
            to: RawField::NotAString("an array"),
            context: RawField::NotAString("an object"),
        };
        let errors = IvrRequest::parse(&raw, PhoneValidation::Possible).unwrap_err();
        assert_eq!(errors.get("key"), Some("Must be a JSON string, not null"));
        assert_eq!(errors.get("from"), Some("Must be a JSON string, not a number"));
        assert_eq!(errors.get("to"), Some("Must be a JSON string, not an array"));
        assert_eq!(errors.get("context"), Some("Must be a JSON string, not an object"));
    }

    #[test]
    fn a_null_or_empty_context_means_none() {
        for context in [RawField::Null, text(""), RawField::Absent] {
            let raw = RawIvrRequest {
                key: text("k"),
                from: text("+14151234560"),
                to: text("+14151234567"),
                context,
            };
            assert_eq!(
                IvrRequest::parse(&raw, PhoneValidation::Possible).unwrap().context,
                None
            );
        }
    }

    #[test]
    fn body_fields_win_over_the_query_string_fallback() {
        let body = RawIvrRequest {
            from: text("+1body"),
            ..Default::default()
        };
        let query = RawIvrRequest {
            key: text("k"),
            from: text("+1query"),
            ..Default::default()
        };
        let merged = body.or(query);
        assert_eq!(
            (merged.key, merged.from, merged.to),
            (text("k"), text("+1body"), RawField::Absent)
        );
    }

    #[test]
    fn journal_text_is_bounded_and_storable() {
        assert_eq!(text("a\0b").journal_text().as_deref(), Some("a\u{fffd}b"));
        assert_eq!(text(&"9".repeat(10_000)).journal_text().map(|t| t.len()), Some(64));
        assert_eq!(RawField::NotAString("a number").journal_text(), None);
    }
}
