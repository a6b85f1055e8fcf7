//! Reading a TwiML document into the verbs the simulator plays. Bounded:
//! documents are read up to [`MAX_DOCUMENT_BYTES`], [`MAX_ELEMENTS`]
//! elements and [`MAX_DEPTH`] levels; anything else is a clear error.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
const MAX_ELEMENTS: usize = 1000;
const MAX_DEPTH: usize = 8;
/// A `loop` attribute plays at most this many times (Twilio's `0` means "forever").
const MAX_LOOPS: u32 = 10;

/// How a verb's URL is requested.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
}

impl Method {
    fn parse(raw: Option<&str>) -> Result<Self, String> {
        match raw.map(str::to_ascii_uppercase).as_deref() {
            None | Some("POST") => Ok(Self::Post),
            Some("GET") => Ok(Self::Get),
            Some(other) => Err(format!("method '{other}' is neither GET nor POST")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }
}

/// One TwiML verb, as the simulator plays it.
#[derive(Clone, Debug, PartialEq)]
pub enum Verb {
    Say {
        text: String,
        language: Option<String>,
        loops: u32,
    },
    Play {
        url: String,
        loops: u32,
    },
    Pause {
        seconds: u32,
    },
    Gather(Gather),
    Dial(Dial),
    Redirect {
        url: String,
        method: Method,
    },
    Hangup,
    Reject {
        reason: String,
    },
    Sms {
        to: Option<String>,
        from: Option<String>,
        body: String,
    },
    Record {
        action: Option<String>,
        method: Method,
        max_length: u32,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Gather {
    pub num_digits: Option<usize>,
    pub finish_on_key: String,
    pub timeout: u32,
    pub action: Option<String>,
    pub method: Method,
    /// What is said or played while waiting for keys.
    pub prompts: Vec<Verb>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Dial {
    /// A number (or a `<Number>`, `<Client>`, `<Sip>` inside).
    pub target: String,
    pub action: Option<String>,
    pub method: Method,
    pub timeout: u32,
}

/// An element of the document, before it is read as a verb.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attributes: Vec<(String, String)>,
    text: String,
    children: Vec<Element>,
}

impl Element {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn number(&self, name: &str, default: u32) -> Result<u32, String> {
        match self.attribute(name) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|_| format!("<{}> {name}='{raw}' is not a whole number", self.name)),
        }
    }

    fn loops(&self) -> Result<u32, String> {
        let loops = self.number("loop", 1)?;
        Ok(if loops == 0 { MAX_LOOPS } else { loops.min(MAX_LOOPS) })
    }
}

/// The verbs of a `<Response>` document, in order.
pub fn parse(document: &str) -> Result<Vec<Verb>, String> {
    if document.len() > MAX_DOCUMENT_BYTES {
        return Err(format!("the document is over {MAX_DOCUMENT_BYTES} bytes"));
    }
    let root = read_tree(document)?;
    if root.name != "Response" {
        return Err(format!("the root element is <{}>, not <Response>", root.name));
    }
    root.children.iter().map(verb).collect()
}

fn verb(element: &Element) -> Result<Verb, String> {
    let text = || element.text.trim().to_owned();
    Ok(match element.name.as_str() {
        "Say" => Verb::Say {
            text: text(),
            language: element.attribute("language").map(str::to_owned),
            loops: element.loops()?,
        },
        "Play" => Verb::Play {
            url: text(),
            loops: element.loops()?,
        },
        "Pause" => Verb::Pause {
            seconds: element.number("length", 1)?,
        },
        "Gather" => Verb::Gather(Gather {
            num_digits: element
                .attribute("numDigits")
                .map(|_| element.number("numDigits", 1))
                .transpose()?
                .map(|n| n as usize),
            finish_on_key: element.attribute("finishOnKey").unwrap_or("#").to_owned(),
            timeout: element.number("timeout", 5)?,
            action: element.attribute("action").map(str::to_owned),
            method: Method::parse(element.attribute("method"))?,
            prompts: element
                .children
                .iter()
                .map(|child| match child.name.as_str() {
                    "Say" | "Play" | "Pause" => verb(child),
                    other => Err(format!("<{other}> cannot be nested in <Gather>")),
                })
                .collect::<Result<_, _>>()?,
        }),
        "Dial" => Verb::Dial(Dial {
            target: match element.children.first() {
                Some(nested) => nested.text.trim().to_owned(),
                None => text(),
            },
            action: element.attribute("action").map(str::to_owned),
            method: Method::parse(element.attribute("method"))?,
            timeout: element.number("timeout", 30)?,
        }),
        "Redirect" => Verb::Redirect {
            url: text(),
            method: Method::parse(element.attribute("method"))?,
        },
        "Hangup" => Verb::Hangup,
        "Reject" => Verb::Reject {
            reason: element.attribute("reason").unwrap_or("rejected").to_owned(),
        },
        "Sms" | "Message" => Verb::Sms {
            to: element.attribute("to").map(str::to_owned),
            from: element.attribute("from").map(str::to_owned),
            body: match element.children.iter().find(|child| child.name == "Body") {
                Some(body) => body.text.trim().to_owned(),
                None => text(),
            },
        },
        "Record" => Verb::Record {
            action: element.attribute("action").map(str::to_owned),
            method: Method::parse(element.attribute("method"))?,
            max_length: element.number("maxLength", 3600)?,
        },
        other => return Err(format!("<{other}> is not a TwiML verb the simulator plays")),
    })
}

fn read_tree(document: &str) -> Result<Element, String> {
    let mut reader = Reader::from_str(document);
    let mut stack: Vec<Element> = Vec::new();
    let mut elements = 0;
    let invalid = |e: &dyn std::fmt::Display| format!("invalid XML: {e}");
    loop {
        match reader.read_event().map_err(|e| invalid(&e))? {
            Event::Start(start) => {
                elements += 1;
                if elements > MAX_ELEMENTS || stack.len() >= MAX_DEPTH {
                    return Err(format!(
                        "the document is deeper than {MAX_DEPTH} or larger than {MAX_ELEMENTS} elements"
                    ));
                }
                stack.push(element(&start, &reader)?);
            }
            Event::Empty(empty) => {
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(format!("the document has more than {MAX_ELEMENTS} elements"));
                }
                let element = element(&empty, &reader)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => return Ok(element),
                }
            }
            Event::Text(text) => {
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&text.decode().map_err(|e| invalid(&e))?);
                }
            }
            Event::CData(data) => {
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&String::from_utf8_lossy(&data));
                }
            }
            Event::GeneralRef(reference) => {
                let name = reference.decode().map_err(|e| invalid(&e))?;
                let resolved = quick_xml::escape::unescape(&format!("&{name};"))
                    .map_err(|e| invalid(&e))?
                    .into_owned();
                if let Some(current) = stack.last_mut() {
                    current.text.push_str(&resolved);
                }
            }
            Event::End(_) => {
                let done = stack
                    .pop()
                    .ok_or_else(|| "invalid XML: an end tag without a start".to_owned())?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Ok(done),
                }
            }
            Event::Eof => return Err("invalid XML: the document ended before </Response>".to_owned()),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
}

fn element(start: &BytesStart<'_>, reader: &Reader<&[u8]>) -> Result<Element, String> {
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| format!("invalid XML attribute: {e}"))?;
        let value = attribute
            .decoded_and_normalized_value(quick_xml::XmlVersion::Implicit1_0, reader.decoder())
            .map_err(|e| format!("invalid XML attribute: {e}"))?;
        attributes.push((
            String::from_utf8_lossy(attribute.key.as_ref()).into_owned(),
            value.into_owned(),
        ));
    }
    Ok(Element {
        name: String::from_utf8_lossy(start.name().as_ref()).into_owned(),
        attributes,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_verb_and_its_attributes_are_read() {
        let verbs = parse(concat!(
            r#"<?xml version="1.0"?><Response><Say language="fr" loop="2">Bonjour &amp; bienvenue</Say>"#,
            r#"<Play loop="0">https://x/a.mp3</Play><Pause length="3"/>"#,
            r#"<Gather numDigits="1" finishOnKey="*" timeout="7" action="/next" method="GET"><Say>Press 1</Say></Gather>"#,
            r#"<Dial action="/after" timeout="20"><Number>+14155550100</Number></Dial>"#,
            r#"<Sms to="+1415" from="+1416">Hi</Sms><Message><Body>There</Body></Message>"#,
            r#"<Record action="/rec" maxLength="30"/><Redirect method="GET">/again</Redirect><Reject reason="busy"/><Hangup/></Response>"#
        ))
        .unwrap();
        assert_eq!(
            verbs[0],
            Verb::Say {
                text: "Bonjour & bienvenue".into(),
                language: Some("fr".into()),
                loops: 2
            }
        );
        assert_eq!(
            verbs[1],
            Verb::Play {
                url: "https://x/a.mp3".into(),
                loops: MAX_LOOPS
            }
        );
        assert_eq!(verbs[2], Verb::Pause { seconds: 3 });
        let Verb::Gather(gather) = &verbs[3] else {
            panic!("{:?}", verbs[3])
        };
        assert_eq!(
            (
                gather.num_digits,
                gather.finish_on_key.as_str(),
                gather.timeout,
                gather.action.as_deref(),
                gather.method
            ),
            (Some(1), "*", 7, Some("/next"), Method::Get)
        );
        assert_eq!(gather.prompts.len(), 1);
        let Verb::Dial(dial) = &verbs[4] else { panic!() };
        assert_eq!(
            (dial.target.as_str(), dial.action.as_deref(), dial.timeout),
            ("+14155550100", Some("/after"), 20)
        );
        assert_eq!(
            verbs[6],
            Verb::Sms {
                to: None,
                from: None,
                body: "There".into()
            }
        );
        assert_eq!(
            verbs[8],
            Verb::Redirect {
                url: "/again".into(),
                method: Method::Get
            }
        );
        assert_eq!(verbs[9], Verb::Reject { reason: "busy".into() });
        assert_eq!(verbs[10], Verb::Hangup);
    }

    #[test]
    fn bad_documents_are_clear_errors() {
        for (document, error) in [
            ("<Response><Say>x</Response>", "invalid XML"),
            ("not xml at all", "invalid XML"),
            ("<Reply/>", "not <Response>"),
            (
                "<Response><Conference>x</Conference></Response>",
                "<Conference> is not a TwiML verb",
            ),
            ("<Response><Pause length=\"x\"/></Response>", "not a whole number"),
            (
                "<Response><Gather><Dial>1</Dial></Gather></Response>",
                "cannot be nested",
            ),
            ("<Response><Say>unterminated", "ended before"),
        ] {
            let refused = parse(document).unwrap_err();
            assert!(refused.contains(error), "{document}: {refused}");
        }
        let deep = format!("<Response>{}{}</Response>", "<a>".repeat(20), "</a>".repeat(20));
        assert!(parse(&deep).unwrap_err().contains("deeper"));
        let huge = format!("<Response><Say>{}</Say></Response>", "x".repeat(MAX_DOCUMENT_BYTES));
        assert!(parse(&huge).unwrap_err().contains("over"));
    }
}
