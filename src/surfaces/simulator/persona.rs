//! Who is on the line: how the played party behaves, and how the numbers a
//! `<Dial>` reaches answer.

use std::collections::HashMap;

/// How a party answers a call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Answer {
    #[default]
    Answers,
    Busy,
    NoAnswer,
    /// An answering machine: the call goes on, announced as `AnsweredBy=machine_start`.
    Machine,
    /// The number does not exist or the network refused the call.
    Failed,
}

impl Answer {
    /// Twilio's `DialCallStatus` for a `<Dial>` this party got.
    pub fn dial_call_status(self) -> &'static str {
        match self {
            Self::Answers | Self::Machine => "completed",
            Self::Busy => "busy",
            Self::NoAnswer => "no-answer",
            Self::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "answers" | "answer" => Some(Self::Answers),
            "busy" => Some(Self::Busy),
            "no-answer" => Some(Self::NoAnswer),
            "machine" => Some(Self::Machine),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// The played party and the parties it may be connected to.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Persona {
    /// How the played party answers (an inbound caller always "answers").
    pub answer: Answer,
    /// Keys pressed at successive `<Gather>`s; an empty entry presses
    /// nothing there (the Gather times out). `"12#"` presses 1, 2, #.
    pub presses: Vec<String>,
    /// Hangs up before the Nth step (1-based) is played.
    pub hang_up_at: Option<usize>,
    /// How each dialled number answers (default: answers).
    pub dial: HashMap<String, Answer>,
}

impl Persona {
    /// Keys for the `index`th Gather (from 0), if any.
    pub fn keys_at(&self, index: usize) -> Option<&str> {
        self.presses
            .get(index)
            .map(String::as_str)
            .filter(|keys| !keys.is_empty())
    }

    pub fn dialled(&self, number: &str) -> Answer {
        self.dial.get(number).copied().unwrap_or_default()
    }
}
