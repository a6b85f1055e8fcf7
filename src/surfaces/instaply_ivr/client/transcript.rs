//! A human transcript of a hook's answer: what the caller would hear.

use quick_xml::Reader;
use quick_xml::events::Event;

/// One line per TwiML verb, in order: `Say (en): …`, `Dial +1…`; verbs this
/// gateway never answers are still named, so another hook's answer reads too.
pub fn of_twiml(xml: &str) -> Result<Vec<String>, String> {
    let mut reader = Reader::from_str(xml);
    let mut lines = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut language: Option<String> = None;
    let mut text = String::new();
    loop {
        match reader.read_event().map_err(|e| format!("not TwiML: {e}"))? {
            Event::Start(start) => {
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                if name == "Say" {
                    language = start.try_get_attribute("language").ok().flatten().and_then(|a| {
                        a.decoded_and_normalized_value(quick_xml::XmlVersion::Implicit1_0, reader.decoder())
                            .ok()
                            .map(|v| v.into_owned())
                    });
                }
                path.push(name);
                text.clear();
            }
            Event::Empty(empty) => lines.push(String::from_utf8_lossy(empty.name().as_ref()).into_owned()),
            Event::Text(content) => text.push_str(&content.decode().map_err(|e| format!("not TwiML: {e}"))?),
            Event::GeneralRef(reference) => {
                let name = reference.decode().map_err(|e| format!("not TwiML: {e}"))?;
                let reference = format!("&{name};");
                let resolved = quick_xml::escape::unescape(&reference).map_err(|e| format!("not TwiML: {e}"))?;
                text.push_str(&resolved);
            }
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                let content = text.trim().to_owned();
                match name.as_str() {
                    "Response" => {}
                    "Say" => match language.take() {
                        Some(language) => lines.push(format!("Say ({language}): {content}")),
                        None => lines.push(format!("Say: {content}")),
                    },
                    "Dial" | "Number" if !content.is_empty() => lines.push(format!("Dial {content}")),
                    "Dial" | "Number" => {}
                    other if content.is_empty() => lines.push(other.to_owned()),
                    other => lines.push(format!("{other} {content}")),
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if lines.is_empty() && !xml.contains("<Response") {
        return Err("not TwiML: no <Response> element".into());
    }
    Ok(lines)
}

/// `field: message` lines of a JSON error body, in the body's order.
pub fn of_error_json(body: &str) -> Option<Vec<String>> {
    let fields: OrderedFields = serde_json::from_str(body).ok()?;
    Some(
        fields
            .0
            .into_iter()
            .map(|(field, message)| format!("{field}: {message}"))
            .collect(),
    )
}

/// A JSON object of strings, read in document order (serde_json's own map
/// sorts its keys).
struct OrderedFields(Vec<(String, String)>);

impl<'de> serde::Deserialize<'de> for OrderedFields {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = OrderedFields;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of strings")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<OrderedFields, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    fields.push(entry);
                }
                Ok(OrderedFields(fields))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surfaces::instaply_ivr::twiml::VoiceResponse;

    #[test]
    fn reads_our_own_answers() {
        assert_eq!(
            of_twiml("<Response><Dial>+14155550100</Dial></Response>").unwrap(),
            ["Dial +14155550100"]
        );
        assert_eq!(
            of_twiml(&VoiceResponse::no_forwarding().to_xml()).unwrap(),
            [
                "Say (en): Sorry, this store did not define voice call forwarding",
                "Say (fr): Désolé, ce magasin n'a pas défini de numéro vocal"
            ]
        );
    }

    #[test]
    fn reads_other_hooks_twiml() {
        let xml = "<?xml version=\"1.0\"?>\n<Response>\n  <Say voice=\"alice\">Tom &amp; Jerry&apos;s</Say>\n  <Dial><Number>+33142685301</Number></Dial>\n  <Pause length=\"1\"/>\n  <Hangup/>\n</Response>";
        assert_eq!(
            of_twiml(xml).unwrap(),
            ["Say: Tom & Jerry's", "Dial +33142685301", "Pause", "Hangup"]
        );
    }

    #[test]
    fn refuses_what_is_not_twiml() {
        assert!(of_twiml("hello").is_err());
        assert!(of_twiml("<Response><Say>unclosed</Response>").is_err());
    }

    #[test]
    fn error_bodies_keep_their_field_order() {
        let lines = of_error_json(r#"{"to":"Missing parameter","from":"Not an E.164 phone number"}"#).unwrap();
        assert_eq!(lines, ["to: Missing parameter", "from: Not an E.164 phone number"]);
    }
}
