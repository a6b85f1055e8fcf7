//! Turning an HTTP request into a [`RawIvrRequest`]: query string, JSON body
//! or form body (docs/ivr-hook.md §1). No rule about the values lives here.

use std::borrow::Cow;

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, web};

use crate::platform::domain::FieldErrors;
use crate::platform::http::body;
use crate::surfaces::instaply_ivr::domain::{RawField, RawIvrRequest};

pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Why a body could not be read; each is reported under `"body"`.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("Request body over {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("Unsupported Content-Type '{0}': send application/json or application/x-www-form-urlencoded")]
    UnsupportedType(String),
    #[error("Malformed JSON: {0}")]
    MalformedJson(String),
    #[error("Expected a JSON object, got {0}")]
    NotAnObject(&'static str),
    #[error("Could not read the request body: {0}")]
    Unreadable(String),
}

impl BodyError {
    pub fn to_field_errors(&self) -> FieldErrors {
        FieldErrors::single("body", self.to_string())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyFormat {
    Json,
    Form,
}

/// The fields of a query string. `+` decodes to a space, as browsers and
/// every IVR platform encode it; the phone parser explains that case.
pub fn from_query(query: &str) -> RawIvrRequest {
    from_pairs(form_urlencoded::parse(query.as_bytes()))
}

/// A decoded POST body, with what a Twilio signature check needs of it.
pub struct DecodedBody {
    pub fields: RawIvrRequest,
    /// Every form parameter (Twilio signs them all), empty for JSON.
    pub form_params: Vec<(String, String)>,
    pub bytes: Vec<u8>,
}

/// Reads a POST body (at most [`MAX_BODY_BYTES`]) and decodes its fields.
/// The Content-Type is judged before any of the body is read.
pub async fn from_body(req: &HttpRequest, payload: web::Payload) -> Result<DecodedBody, BodyError> {
    let format = body_format(req.headers().get(CONTENT_TYPE).map(|value| value.as_bytes()))?;
    let body = body::read_limited(req, payload, MAX_BODY_BYTES)
        .await
        .map_err(|e| match e {
            body::ReadError::TooLarge(_) => BodyError::TooLarge,
            body::ReadError::Unreadable(cause) => BodyError::Unreadable(cause),
        })?;
    let fields = parse_body(format, &body)?;
    let form_params = match format {
        BodyFormat::Form => form_urlencoded::parse(&body).into_owned().collect(),
        BodyFormat::Json => Vec::new(),
    };
    Ok(DecodedBody {
        fields,
        form_params,
        bytes: body,
    })
}

/// [`from_body`] on a body already in memory: what the fuzz target drives.
pub fn decode_body(content_type: Option<&[u8]>, body: &[u8]) -> Result<RawIvrRequest, BodyError> {
    let format = body_format(content_type)?;
    if body.len() > MAX_BODY_BYTES {
        return Err(BodyError::TooLarge);
    }
    parse_body(format, body)
}

fn parse_body(format: BodyFormat, body: &[u8]) -> Result<RawIvrRequest, BodyError> {
    if body.is_empty() {
        return Ok(RawIvrRequest::default());
    }
    match format {
        BodyFormat::Form => Ok(from_pairs(form_urlencoded::parse(body))),
        BodyFormat::Json => from_json(body),
    }
}

fn body_format(content_type: Option<&[u8]>) -> Result<BodyFormat, BodyError> {
    let Some(header) = content_type else {
        return Ok(BodyFormat::Json);
    };
    let unsupported = || BodyError::UnsupportedType(String::from_utf8_lossy(header).chars().take(100).collect());
    let essence = body::media_type(header).map_err(|_| unsupported())?;
    match essence.as_str() {
        "application/json" => Ok(BodyFormat::Json),
        "application/x-www-form-urlencoded" => Ok(BodyFormat::Form),
        other if other.starts_with("application/") && other.ends_with("+json") => Ok(BodyFormat::Json),
        _ => Err(unsupported()),
    }
}

fn from_json(body: &[u8]) -> Result<RawIvrRequest, BodyError> {
    match serde_json::from_slice::<JsonBody>(body).map_err(|e| BodyError::MalformedJson(e.to_string()))? {
        JsonBody::Object(raw) => Ok(raw),
        JsonBody::Other(kind) => Err(BodyError::NotAnObject(kind)),
    }
}

/// A JSON body read in one pass: the hook's fields of an object, with keys
/// given twice caught (a `serde_json::Value` would keep the last one
/// silently), or the kind of a value that is not an object.
enum JsonBody {
    Object(RawIvrRequest),
    Other(&'static str),
}

impl<'de> serde::Deserialize<'de> for JsonBody {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonBodyVisitor)
    }
}

struct JsonBodyVisitor;

impl<'de> serde::de::Visitor<'de> for JsonBodyVisitor {
    type Value = JsonBody;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<JsonBody, A::Error> {
        let mut raw = RawIvrRequest::default();
        while let Some(name) = map.next_key::<Cow<'de, str>>()? {
            let slot = match name.as_ref() {
                "key" => &mut raw.key,
                "from" => &mut raw.from,
                "to" => &mut raw.to,
                "context" => &mut raw.context,
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    continue;
                }
            };
            let value = match map.next_value::<serde_json::Value>()? {
                serde_json::Value::String(text) => RawField::Text(text),
                serde_json::Value::Null => RawField::Null,
                other => RawField::NotAString(json_kind(&other)),
            };
            *slot = if slot.is_absent() { value } else { RawField::Duplicate };
        }
        Ok(JsonBody::Object(raw))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<JsonBody, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(JsonBody::Other("an array"))
    }

    fn visit_bool<E>(self, _: bool) -> Result<JsonBody, E> {
        Ok(JsonBody::Other("a boolean"))
    }

    fn visit_i64<E>(self, _: i64) -> Result<JsonBody, E> {
        Ok(JsonBody::Other("a number"))
    }

    fn visit_u64<E>(self, _: u64) -> Result<JsonBody, E> {
        Ok(JsonBody::Other("a number"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<JsonBody, E> {
        Ok(JsonBody::Other("a number"))
    }

    fn visit_str<E>(self, _: &str) -> Result<JsonBody, E> {
        Ok(JsonBody::Other("a string"))
    }

    fn visit_unit<E>(self) -> Result<JsonBody, E> {
        Ok(JsonBody::Other("null"))
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A field given twice is [`RawField::Duplicate`]: the gateway never picks
/// one. Twilio's capitalised `From` and `To` fill in when the lowercase names
/// are absent, so a Twilio Voice URL can point straight at the hook.
fn from_pairs<'a>(pairs: impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)>) -> RawIvrRequest {
    let mut raw = RawIvrRequest::default();
    let (mut twilio_from, mut twilio_to) = (RawField::Absent, RawField::Absent);
    for (name, value) in pairs {
        let slot = match name.as_ref() {
            "key" => &mut raw.key,
            "from" => &mut raw.from,
            "to" => &mut raw.to,
            "context" => &mut raw.context,
            "From" => &mut twilio_from,
            "To" => &mut twilio_to,
            _ => continue,
        };
        *slot = if slot.is_absent() {
            RawField::Text(value.into_owned())
        } else {
            RawField::Duplicate
        };
    }
    if raw.from.is_absent() {
        raw.from = twilio_from;
    }
    if raw.to.is_absent() {
        raw.to = twilio_to;
    }
    raw
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> RawField {
        RawField::Text(value.to_owned())
    }

    #[test]
    fn query_decodes_percent_escapes_and_turns_a_bare_plus_into_a_space() {
        let raw = from_query("key=k&from=%2B14151234560&to=+14151234567&context=OPT_IN&ignored=1");
        assert_eq!(raw.from, text("+14151234560"));
        assert_eq!(raw.to, text(" 14151234567"));
        assert_eq!(raw.context, text("OPT_IN"));
    }

    #[test]
    fn a_field_given_twice_is_a_duplicate_and_twilio_names_fill_in() {
        let raw = from_query("key=a&key=b&From=%2B1&To=%2B2&to=%2B3");
        assert_eq!(
            (raw.key, raw.from, raw.to),
            (RawField::Duplicate, text("+1"), text("+3"))
        );
        let raw = from_query("key=a&From=%2B1&From=%2B1&context=x&context=x");
        assert_eq!((raw.from, raw.context), (RawField::Duplicate, RawField::Duplicate));
    }

    #[test]
    fn a_json_key_given_twice_is_a_duplicate_even_with_the_same_value() {
        let raw = from_json(br#"{"key":"k","to":"+1","to":"+1","from":"+2","from":null,"x":1,"x":2}"#).unwrap();
        assert_eq!(raw.key, text("k"));
        assert_eq!((raw.to, raw.from), (RawField::Duplicate, RawField::Duplicate));
    }

    #[test]
    fn json_fields_keep_their_type() {
        let raw = from_json(br#"{"key":"k","from":14151234560,"to":null,"context":["x"],"extra":{}}"#).unwrap();
        assert_eq!(raw.key, text("k"));
        assert_eq!(raw.from, RawField::NotAString("a number"));
        assert_eq!(raw.to, RawField::Null);
        assert_eq!(raw.context, RawField::NotAString("an array"));
    }

    #[test]
    fn json_that_is_not_an_object_is_refused() {
        assert_eq!(from_json(b"[1]"), Err(BodyError::NotAnObject("an array")));
        assert_eq!(from_json(b"\"x\""), Err(BodyError::NotAnObject("a string")));
        assert_eq!(from_json(b"null"), Err(BodyError::NotAnObject("null")));
        assert_eq!(from_json(b"1.5"), Err(BodyError::NotAnObject("a number")));
        assert!(matches!(from_json(b"[1] 2"), Err(BodyError::MalformedJson(_))));
        assert!(matches!(from_json(b"{\"key\":"), Err(BodyError::MalformedJson(_))));
    }
}
