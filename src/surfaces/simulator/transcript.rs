//! What a simulated call did, step by step, as JSON and as text.

use std::fmt::Write;

use super::twiml::Method;

/// One thing that happened on the call.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// An HTTP request for TwiML: its answer's status (absent when none came) and time.
    Request {
        #[schema(value_type = String)]
        method: Method,
        url: String,
        status: Option<u16>,
        millis: u64,
        error: Option<String>,
        /// The start of an answer that was not a success (its error body).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
    },
    Say {
        text: String,
        language: Option<String>,
    },
    Play {
        url: String,
    },
    Pause {
        seconds: u32,
    },
    /// The keys pressed at a Gather, or `timed_out` when none were.
    Gather {
        digits: Option<String>,
        timed_out: bool,
    },
    Dial {
        number: String,
        outcome: String,
    },
    Sms {
        to: Option<String>,
        body: String,
    },
    Record {
        max_length: u32,
    },
}

/// How the call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Ending {
    /// The document ran out of verbs.
    Completed,
    /// A `<Hangup>`.
    Hangup,
    /// A `<Reject>`.
    Rejected,
    /// The persona hung up.
    CallerHungUp,
    /// The played party did not take the call.
    Busy,
    NoAnswer,
    Failed,
    /// A request failed, a document was not TwiML, or a loop was capped.
    Error,
}

impl Ending {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Hangup => "hangup",
            Self::Rejected => "rejected",
            Self::CallerHungUp => "caller-hung-up",
            Self::Busy => "busy",
            Self::NoAnswer => "no-answer",
            Self::Failed => "failed",
            Self::Error => "error",
        }
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Transcript {
    pub call_sid: String,
    pub from: String,
    pub to: String,
    pub steps: Vec<Step>,
    pub ended: Ending,
    /// Why, when the call ended in an error.
    pub error: Option<String>,
    pub duration_ms: u64,
}

impl Transcript {
    /// One line per step, then how it ended.
    pub fn render(&self) -> String {
        let mut text = String::new();
        for step in &self.steps {
            let _ = match step {
                Step::Request {
                    method,
                    url,
                    status,
                    millis,
                    error,
                    ..
                } => match (status, error) {
                    (Some(status), _) => writeln!(text, "{} {url} -> {status} ({millis} ms)", method.as_str()),
                    (None, error) => writeln!(
                        text,
                        "{} {url} -> no answer: {} ({millis} ms)",
                        method.as_str(),
                        error.as_deref().unwrap_or("")
                    ),
                },
                Step::Say { text: said, language } => match language {
                    Some(language) => writeln!(text, "Say ({language}): {said}"),
                    None => writeln!(text, "Say: {said}"),
                },
                Step::Play { url } => writeln!(text, "Play {url}"),
                Step::Pause { seconds } => writeln!(text, "Pause {seconds} s"),
                Step::Gather {
                    digits: Some(digits), ..
                } => writeln!(text, "Pressed {digits}"),
                Step::Gather { .. } => writeln!(text, "Pressed nothing (timed out)"),
                Step::Dial { number, outcome } => writeln!(text, "Dial {number}: {outcome}"),
                Step::Sms { to, body } => writeln!(text, "SMS to {}: {body}", to.as_deref().unwrap_or("the caller")),
                Step::Record { max_length } => writeln!(text, "Record (up to {max_length} s)"),
            };
        }
        let _ = match &self.error {
            Some(error) => writeln!(text, "Call ended: {} ({error})", self.ended.as_str()),
            None => writeln!(text, "Call ended: {}", self.ended.as_str()),
        };
        text
    }
}
