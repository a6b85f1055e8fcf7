//! Turning an HTTP request into a [`RawIvrRequest`]: query string, JSON body
//! or form body (CONTRACT section 1). No rule about the values lives here.

use std::borrow::Cow;

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, web};

use crate::domain::{FieldErrors, RawField, RawIvrRequest};
use crate::routes::body;

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
            body::ReadError::TooLarge => BodyError::TooLarge,
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
    let value = std::str::from_utf8(header).map_err(|_| unsupported())?;
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Ok(BodyFormat::Json),
        "application/x-www-form-urlencoded" => Ok(BodyFormat::Form),
        other if other.starts_with("application/") && other.ends_with("+json") => Ok(BodyFormat::Json),
        _ => Err(unsupported()),
    }
}

fn from_json(body: &[u8]) -> Result<RawIvrRequest, BodyError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| BodyError::MalformedJson(e.to_string()))?;
    let serde_json::Value::Object(mut object) = value else {
        return Err(BodyError::NotAnObject(json_kind(&value)));
    };
    let mut take = |name: &str| match object.remove(name) {
        None => RawField::Absent,
        Some(serde_json::Value::String(text)) => RawField::Text(text),
        Some(serde_json::Value::Null) => RawField::Null,
        Some(other) => RawField::NotAString(json_kind(&other)),
    };
    Ok(RawIvrRequest {
        key: take("key"),
        from: take("from"),
        to: take("to"),
        context: take("context"),
    })
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

/// The first occurrence of each field wins. Twilio's capitalised `From` and
/// `To` fill in when the lowercase names are absent, so a Twilio Voice URL
/// can point straight at the hook.
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
        if slot.is_absent() {
            *slot = RawField::Text(value.into_owned());
        }
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
    fn the_first_occurrence_wins_and_twilio_names_fill_in() {
        let raw = from_query("key=a&key=b&From=%2B1&To=%2B2&to=%2B3");
        assert_eq!((raw.key, raw.from, raw.to), (text("a"), text("+1"), text("+3")));
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
        assert!(matches!(from_json(b"{\"key\":"), Err(BodyError::MalformedJson(_))));
    }
}
