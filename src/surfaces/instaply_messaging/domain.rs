//! The messaging side's vocabularies and the values a request may carry,
//! each parsed from loose JSON into a type that cannot be invalid.

use serde_json::Value;

use crate::platform::domain::FieldErrors;
use crate::platform::vocabulary::vocabulary;

vocabulary! {
    /// A thread's channel (`customer_threads.channel`; tested against its CHECK).
    pub enum Channel {
        Sms => "SMS",
        Whatsapp => "WHATSAPP",
        Webchat => "WEBCHAT",
        Email => "EMAIL",
        Facebook => "FACEBOOK",
        Instagram => "INSTAGRAM",
    }
}

vocabulary! {
    /// Where a thread stands (`customer_threads.status`).
    pub enum ThreadStatus {
        Waiting => "waiting",
        Replied => "replied",
        Resolved => "resolved",
    }
}

vocabulary! {
    /// What a webhook can subscribe to (`messaging_webhooks.subscribed_events`).
    pub enum EventKind {
        Messages => "messages",
        Transfers => "transfers",
    }
}

vocabulary! {
    /// Where an event delivery stands (`webhook_deliveries.status`).
    pub enum DeliveryStatus {
        Queued => "queued",
        Delivered => "delivered",
        Failed => "failed",
    }
}

fn parse_named<T: Copy>(all: &[T], names: &[&str], raw: &str) -> Option<T> {
    names.iter().position(|name| *name == raw).map(|at| all[at])
}

impl Channel {
    pub fn parse(raw: &str) -> Option<Self> {
        parse_named(&Self::ALL, &Self::NAMES, raw)
    }
}

impl ThreadStatus {
    pub fn parse(raw: &str) -> Option<Self> {
        parse_named(&Self::ALL, &Self::NAMES, raw)
    }
}

impl EventKind {
    pub fn parse(raw: &str) -> Option<Self> {
        parse_named(&Self::ALL, &Self::NAMES, raw)
    }
}

impl DeliveryStatus {
    pub fn parse(raw: &str) -> Option<Self> {
        parse_named(&Self::ALL, &Self::NAMES, raw)
    }
}

/// A customer thread's id: a positive integer, given as a JSON number or a
/// string of digits (the seed's examples use both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadId(i64);

impl ThreadId {
    pub fn from_json(value: &Value) -> Result<Self, String> {
        match value {
            Value::Number(n) => n.as_i64().and_then(Self::positive),
            Value::String(s) => Self::parse(s).ok(),
            _ => None,
        }
        .ok_or_else(|| "Expected a customer thread id: a positive integer, as a number or a string".to_owned())
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        let digits = !raw.is_empty() && raw.len() <= 18 && raw.bytes().all(|b| b.is_ascii_digit());
        digits
            .then(|| raw.parse().ok())
            .flatten()
            .and_then(Self::positive)
            .ok_or_else(|| format!("'{}' is not a customer thread id", truncate(raw)))
    }

    fn positive(id: i64) -> Option<Self> {
        (id > 0).then_some(Self(id))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// Longest message text accepted (WhatsApp's own limit is 4,096).
pub const MAX_TEXT_CHARS: usize = 4096;

/// A JSON request body's fields, read one by one so that every wrong type
/// is reported against its own field.
pub struct Fields<'a> {
    object: &'a serde_json::Map<String, Value>,
    pub errors: FieldErrors,
}

impl<'a> Fields<'a> {
    pub fn of(body: &'a Value) -> Result<Self, FieldErrors> {
        body.as_object()
            .map(|object| Self {
                object,
                errors: FieldErrors::default(),
            })
            .ok_or_else(|| FieldErrors::single("body", "Expected a JSON object"))
    }

    /// A present, non-null value.
    pub fn value(&self, name: &str) -> Option<&'a Value> {
        self.object.get(name).filter(|value| !value.is_null())
    }

    pub fn required_thread(&mut self, name: &'static str) -> Option<ThreadId> {
        match self.value(name) {
            None => {
                self.errors.push(name, "Missing parameter");
                None
            }
            Some(value) => ThreadId::from_json(value).map_err(|e| self.errors.push(name, e)).ok(),
        }
    }

    /// An optional string of 1 to `max` characters.
    pub fn text(&mut self, name: &'static str, max: usize) -> Option<String> {
        match self.value(name)? {
            Value::String(s) if s.is_empty() => self.errors.push(name, "Must not be empty"),
            Value::String(s) if s.contains('\0') => self.errors.push(name, "Must not contain the NUL character"),
            Value::String(s) if s.chars().count() > max => self.errors.push(name, format!("At most {max} characters")),
            Value::String(s) => return Some(s.clone()),
            _ => self.errors.push(name, "Expected a string"),
        }
        None
    }

    pub fn boolean(&mut self, name: &'static str) -> Option<bool> {
        match self.value(name)? {
            Value::Bool(b) => Some(*b),
            _ => {
                self.errors.push(name, "Expected true or false");
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), FieldErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}

/// A webhook's target: an absolute http(s) URL with a host.
pub fn parse_url(raw: &str) -> Result<String, String> {
    if raw.chars().any(char::is_control) {
        return Err("Must not contain control characters".to_owned());
    }
    let url = reqwest::Url::parse(raw).map_err(|e| format!("Not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err("Expected an absolute http:// or https:// URL".to_owned());
    }
    if raw.len() > 2048 {
        return Err("At most 2048 characters".to_owned());
    }
    Ok(raw.to_owned())
}

/// One header sent with every delivery of a webhook.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ExtraHeader {
    pub name: String,
    pub value: String,
}

/// Headers a webhook may not set: the emulator sends them itself.
const RESERVED_HEADERS: [&str; 6] = [
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
    "connection",
    "x-delivery-id",
];

pub fn parse_headers(value: &Value) -> Result<Vec<ExtraHeader>, String> {
    let items = value.as_array().ok_or("Expected an array of {name, value} objects")?;
    if items.len() > 20 {
        return Err("At most 20 headers".to_owned());
    }
    let mut headers = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let (Some(name), Some(value)) = (
            item.get("name").and_then(Value::as_str),
            item.get("value").and_then(Value::as_str),
        ) else {
            return Err(format!("Header {index}: expected an object with string name and value"));
        };
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() || name.len() > 256 {
            return Err(format!(
                "Header {index}: '{}' is not a valid header name",
                truncate(name)
            ));
        }
        if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(format!("Header {index}: '{name}' is set by the emulator itself"));
        }
        if reqwest::header::HeaderValue::from_str(value).is_err() || value.len() > 4096 {
            return Err(format!(
                "Header {index}: the value of '{name}' is not a valid header value"
            ));
        }
        headers.push(ExtraHeader {
            name: name.to_owned(),
            value: value.to_owned(),
        });
    }
    Ok(headers)
}

pub fn parse_events(value: &Value) -> Result<Vec<EventKind>, String> {
    let items = value.as_array().ok_or("Expected an array of event names")?;
    let mut events = Vec::new();
    for item in items {
        let kind = item
            .as_str()
            .and_then(EventKind::parse)
            .ok_or_else(|| format!("Expected event names among {}", EventKind::NAMES.join(", ")))?;
        if !events.contains(&kind) {
            events.push(kind);
        }
    }
    if events.is_empty() {
        return Err("Subscribe to at least one event".to_owned());
    }
    Ok(events)
}

/// At most 40 characters of a value quoted in an error.
fn truncate(raw: &str) -> String {
    raw.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_thread_id_is_a_positive_integer_as_a_number_or_a_string() {
        assert_eq!(ThreadId::from_json(&json!(42)).unwrap().get(), 42);
        assert_eq!(ThreadId::from_json(&json!("9999")).unwrap().get(), 9999);
        for bad in [
            json!(0),
            json!(-1),
            json!("12a"),
            json!(""),
            json!(1.5),
            json!(true),
            json!(["1"]),
            json!("99999999999999999999"),
        ] {
            assert!(ThreadId::from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn headers_must_be_valid_and_not_reserved() {
        let ok = parse_headers(&json!([{"name": "Authorization", "value": "Bearer x"}])).unwrap();
        assert_eq!(ok[0].name, "Authorization");
        assert!(parse_headers(&json!([{"name": "Bad Name", "value": "x"}])).is_err());
        assert!(parse_headers(&json!([{"name": "X-A", "value": "a\r\nb"}])).is_err());
        assert!(parse_headers(&json!([{"name": "Content-Type", "value": "text/plain"}])).is_err());
        assert!(parse_headers(&json!({"name": "X-A"})).is_err());
    }

    #[test]
    fn urls_must_be_absolute_http() {
        assert!(parse_url("https://example.com/hook").is_ok());
        assert!(parse_url("http://127.0.0.1:9000/").is_ok());
        for bad in [
            "ftp://example.com/",
            "example.com",
            "/relative",
            "http://",
            "javascript:alert(1)",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn events_are_a_non_empty_subset() {
        assert_eq!(
            parse_events(&json!(["messages", "messages"])).unwrap(),
            vec![EventKind::Messages]
        );
        assert!(parse_events(&json!([])).is_err());
        assert!(parse_events(&json!(["calls"])).is_err());
        assert!(parse_events(&json!("messages")).is_err());
    }
}
