//! `ivr-gateway call`: one call to a `/v1/ivr` hook (this one or another), as
//! an IVR platform would place it, played by the call simulator's engine,
//! and what the caller hears printed. The request carries its fields in the
//! query string (`get`), a JSON body (`post`) or Twilio's form (`form`).

use std::time::Duration;

use crate::surfaces::simulator::{self, Ending, Persona, Step};

/// How the request carries its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CallMethod {
    /// Every field in the query string.
    Get,
    /// A JSON body.
    Post,
    /// As a Twilio Voice URL: `key` and `context` in the query string,
    /// `From` and `To` form-encoded.
    Form,
}

#[derive(Clone, Debug)]
pub struct CallRequest {
    pub url: String,
    pub method: CallMethod,
    pub key: String,
    pub from: String,
    pub to: String,
    pub context: Option<String>,
}

/// The hook's answer and what the caller hears.
#[derive(Clone, Debug)]
pub struct CallAnswer {
    pub status: u16,
    pub reason: String,
    pub lines: Vec<String>,
}

impl CallAnswer {
    pub fn is_error(&self) -> bool {
        self.status >= 400
    }

    pub fn render(&self) -> String {
        let mut out = format!("HTTP {} {}\n", self.status, self.reason);
        for line in &self.lines {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

/// Longest the hook may take to answer.
const TIMEOUT: Duration = Duration::from_secs(30);

pub async fn call(request: &CallRequest) -> anyhow::Result<CallAnswer> {
    let mut url = reqwest::Url::parse(&request.url)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "'{}' is not an http(s) URL: write it whole, e.g. http://127.0.0.1:8080/v1/ivr",
                request.url
            )
        })?;
    let mut fields = vec![("key".to_owned(), request.key.clone())];
    if let Some(context) = &request.context {
        fields.push(("context".to_owned(), context.clone()));
    }
    let (method, first_params, first_json) = match request.method {
        CallMethod::Get => {
            fields.extend([
                ("from".to_owned(), request.from.clone()),
                ("to".to_owned(), request.to.clone()),
            ]);
            (simulator::twiml::Method::Get, fields, None)
        }
        CallMethod::Post => {
            let mut body = serde_json::json!({ "key": request.key, "from": request.from, "to": request.to });
            if let Some(context) = &request.context {
                body["context"] = context.as_str().into();
            }
            (simulator::twiml::Method::Post, Vec::new(), Some(body))
        }
        // Twilio's own From and To go in the form; the key stays in the URL.
        CallMethod::Form => {
            url.query_pairs_mut().extend_pairs(&fields);
            (simulator::twiml::Method::Post, Vec::new(), None)
        }
    };
    let call = simulator::Call {
        url: url.to_string(),
        method,
        from: request.from.clone(),
        to: request.to.clone(),
        persona: Persona::default(),
        auth_token: None,
        first_params,
        first_json,
    };
    let transcript = simulator::play(&simulator::engine::client(TIMEOUT), &call).await;
    let Some(Step::Request {
        status, error, body, ..
    }) = transcript.steps.first()
    else {
        anyhow::bail!(
            "{}",
            transcript.error.unwrap_or_else(|| "the call made no request".into())
        );
    };
    let Some(status) = *status else {
        return Err(unreachable(&url, error.as_deref().unwrap_or_default()));
    };
    let status = reqwest::StatusCode::from_u16(status)?;
    let lines = if status.is_success() {
        if transcript.ended == Ending::Error && transcript.steps.len() == 1 {
            anyhow::bail!("{}", transcript.error.unwrap_or_default());
        }
        heard(&transcript.steps[1..])
    } else {
        let body = body.as_deref().unwrap_or_default();
        of_error_json(body).unwrap_or_else(|| vec![body.trim().to_owned()])
    };
    Ok(CallAnswer {
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or_default().to_owned(),
        lines,
    })
}

/// One line per verb of the hook's answer: `Say (en): …`, `Dial +1…`.
fn heard(steps: &[Step]) -> Vec<String> {
    steps
        .iter()
        .filter_map(|step| match step {
            Step::Say {
                text,
                language: Some(language),
            } => Some(format!("Say ({language}): {text}")),
            Step::Say { text, language: None } => Some(format!("Say: {text}")),
            Step::Dial { number, .. } => Some(format!("Dial {number}")),
            Step::Play { url } => Some(format!("Play {url}")),
            Step::Pause { seconds } => Some(format!("Pause {seconds} s")),
            Step::Sms { body, .. } => Some(format!("Sms: {body}")),
            Step::Record { .. } => Some("Record".to_owned()),
            Step::Gather { .. } | Step::Request { .. } => None,
        })
        .collect()
}

/// Why `url` could not be called, without the request's query (it holds the
/// key), and what to do about the usual cause.
fn unreachable(url: &reqwest::Url, error: &str) -> anyhow::Error {
    let place = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default())
        + &url.port().map(|port| format!(":{port}")).unwrap_or_default();
    let refused = error
        .strip_prefix("connection refused or unreachable (")
        .and_then(|root| root.strip_suffix(')'));
    let cause = match (refused, error) {
        (Some(root), _) => format!("cannot connect ({root})"),
        (None, "timed out") => format!("no answer within {} s", TIMEOUT.as_secs()),
        (None, other) => other.to_owned(),
    };
    let hint = if refused.is_some() {
        "\nIs the gateway running? Start it with `ivr-gateway serve` (or `cargo run -- serve`), or pass --url."
    } else {
        ""
    };
    anyhow::anyhow!("cannot call {place}: {cause}{hint}")
}

/// `{"field": "sentence", …}` as `field: sentence` lines, in the body's order.
fn of_error_json(body: &str) -> Option<Vec<String>> {
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

    #[test]
    fn error_bodies_keep_their_field_order() {
        let lines = of_error_json(r#"{"to":"Missing parameter","from":"Not an E.164 phone number"}"#).unwrap();
        assert_eq!(lines, ["to: Missing parameter", "from: Not an E.164 phone number"]);
        assert_eq!(of_error_json("not json"), None);
    }

    #[test]
    fn the_caller_hears_each_verb_on_a_line() {
        let steps = [
            Step::Say {
                text: "Tom & Jerry's".into(),
                language: None,
            },
            Step::Say {
                text: "Bonjour".into(),
                language: Some("fr".into()),
            },
            Step::Gather {
                digits: None,
                timed_out: true,
            },
            Step::Dial {
                number: "+33142685301".into(),
                outcome: "completed".into(),
            },
            Step::Pause { seconds: 1 },
        ];
        assert_eq!(
            heard(&steps),
            [
                "Say: Tom & Jerry's",
                "Say (fr): Bonjour",
                "Dial +33142685301",
                "Pause 1 s"
            ]
        );
    }

    #[test]
    fn an_unreachable_hook_is_named_without_its_query() {
        let url = reqwest::Url::parse("http://127.0.0.1:9/v1/ivr?key=s3cret").unwrap();
        let refused = unreachable(
            &url,
            "connection refused or unreachable (Connection refused (os error 111))",
        )
        .to_string();
        assert!(
            refused.starts_with("cannot call http://127.0.0.1:9: cannot connect (Connection refused (os error 111))"),
            "{refused}"
        );
        assert!(!refused.contains("s3cret"));
        assert_eq!(
            unreachable(&url, "timed out").to_string(),
            "cannot call http://127.0.0.1:9: no answer within 30 s"
        );
    }
}
