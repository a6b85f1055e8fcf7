//! Plays an IVR scenario script (Infobip's action language: `say`,
//! `collectInto`, `switch`, `request`…) against a persona, as the TwiML
//! engine plays a document: same persona, same transcript, same caps. The
//! script is taken as already checked (the Infobip surface refuses bad
//! ones); anything unexpected still ends the call with an error, never a panic.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::{Map, Value};

use super::engine::{MAX_REQUESTS, MAX_STEPS, describe, read_limited, redacted};
use super::persona::{Answer, Persona};
use super::transcript::{Ending, Step, Transcript};
use super::twiml::Method;

/// Times a `repeat` runs its actions at most when its `until` never holds.
pub const MAX_REPEATS: usize = 20;
/// A `request`'s answer kept in a `saveResponse` variable, at most.
const MAX_SAVED_RESPONSE: usize = 4096;

/// A scenario call to play.
#[derive(Clone, Debug)]
pub struct ScriptCall {
    pub from: String,
    pub to: String,
    /// An array of actions.
    pub script: Value,
    /// `${name}` values: `to`, `from` and the launch's parameters.
    pub variables: BTreeMap<String, String>,
    pub persona: Persona,
}

/// What a played scenario gave.
#[derive(Clone, Debug, PartialEq)]
pub struct ScriptOutcome {
    pub transcript: Transcript,
    /// Each `collectInto` variable with the keys pressed there ("" for none), in order.
    pub collected: Vec<(String, String)>,
    /// How long the call lasted on the line, estimated from what was played.
    pub line_seconds: u32,
}

enum Flow {
    Next,
    Jump(String),
    End(Ending, Option<String>),
}

struct Player<'a> {
    client: &'a reqwest::Client,
    persona: &'a Persona,
    variables: BTreeMap<String, String>,
    steps: Vec<Step>,
    collected: Vec<(String, String)>,
    played: usize,
    requests: usize,
    gathers: usize,
    seconds: u32,
}

pub async fn play_script(client: &reqwest::Client, call: &ScriptCall) -> ScriptOutcome {
    let started = Instant::now();
    let mut player = Player {
        client,
        persona: &call.persona,
        variables: call.variables.clone(),
        steps: Vec::new(),
        collected: Vec::new(),
        played: 0,
        requests: 0,
        gathers: 0,
        seconds: 0,
    };
    player.variables.insert("to".into(), call.to.clone());
    player.variables.insert("from".into(), call.from.clone());
    let (ended, error) = match call.persona.answer {
        Answer::Busy => (Ending::Busy, None),
        Answer::NoAnswer => (Ending::NoAnswer, None),
        Answer::Failed => (Ending::Failed, None),
        Answer::Answers | Answer::Machine => match call.script.as_array() {
            Some(script) => player.run(script).await,
            None => (Ending::Error, Some("the script is not an array of actions".into())),
        },
    };
    ScriptOutcome {
        transcript: Transcript {
            call_sid: format!("IB{}", uuid::Uuid::new_v4().simple()),
            from: call.from.clone(),
            to: call.to.clone(),
            steps: player.steps,
            ended,
            error,
            duration_ms: started.elapsed().as_millis() as u64,
        },
        collected: player.collected,
        line_seconds: player.seconds,
    }
}

impl Player<'_> {
    /// Runs the top level; a `goTo` from any depth lands on a top-level label.
    async fn run(&mut self, script: &[Value]) -> (Ending, Option<String>) {
        let mut at = 0;
        while at < script.len() {
            match self.block(std::slice::from_ref(&script[at])).await {
                Flow::Next => at += 1,
                Flow::End(ending, error) => return (ending, error),
                Flow::Jump(label) => match script.iter().position(|action| names_label(action, &label)) {
                    Some(found) => at = found + 1,
                    None => return (Ending::Error, Some(format!("goTo '{label}': no such top-level label"))),
                },
            }
        }
        (Ending::Completed, None)
    }

    fn block<'s>(&'s mut self, actions: &'s [Value]) -> BoxFuture<'s, Flow> {
        async move {
            for action in actions {
                let Some(action) = action.as_object() else {
                    return Flow::End(Ending::Error, Some("an action is not an object".into()));
                };
                match self.action(action).await {
                    Flow::Next => {}
                    other => return other,
                }
            }
            Flow::Next
        }
        .boxed()
    }

    async fn action(&mut self, action: &Map<String, Value>) -> Flow {
        self.played += 1;
        if self.persona.hang_up_at.is_some_and(|at| self.played >= at) {
            return Flow::End(Ending::CallerHungUp, None);
        }
        if self.played > MAX_STEPS {
            return Flow::End(Ending::Error, Some(format!("more than {MAX_STEPS} steps: a loop?")));
        }
        let text = |key: &str| action.get(key).and_then(Value::as_str).unwrap_or_default();
        if action.contains_key("say") {
            let said = self.substitute(text("say"));
            self.seconds += 1 + said.chars().count() as u32 / 15;
            let language = action.get("language").and_then(Value::as_str).map(str::to_owned);
            self.steps.push(Step::Say { text: said, language });
        } else if action.contains_key("play") {
            self.seconds += 3;
            let url = self.substitute(text("play"));
            self.steps.push(Step::Play { url });
        } else if let Some(seconds) = action.get("pause") {
            let seconds = seconds.as_f64().unwrap_or(0.0).clamp(0.0, 600.0).round() as u32;
            self.seconds += seconds;
            self.steps.push(Step::Pause { seconds });
        } else if action.contains_key("collectInto") {
            self.collect(text("collectInto"), action.get("options"));
        } else if action.contains_key("switch") {
            let value = self.substitute(text("switch"));
            let cases = action.get("case").and_then(Value::as_object);
            let branch = cases.and_then(|cases| cases.get(&value).or_else(|| cases.get("__default")));
            if let Some(Value::Array(branch)) = branch {
                return self.block(branch).await;
            }
        } else if action.contains_key("if") {
            let holds = self.holds(text("if"));
            if let Some(Value::Array(branch)) = action.get(if holds { "then" } else { "else" }) {
                return self.block(branch).await;
            }
        } else if let Some(target) = action.get("goTo") {
            return Flow::Jump(match target {
                Value::String(label) => label.clone(),
                other => other.to_string(),
            });
        } else if action.contains_key("dial") {
            let number = self.substitute(text("dial"));
            let outcome = self.persona.dialled(&number).dial_call_status();
            if outcome == "completed" {
                self.seconds += 10;
            }
            self.steps.push(Step::Dial {
                number,
                outcome: outcome.to_owned(),
            });
        } else if action.contains_key("request") {
            return self.request(action).await;
        } else if action.contains_key("sendSms") {
            let body = self.substitute(text("sendSms"));
            self.steps.push(Step::Sms { to: None, body });
        } else if action.contains_key("setVariable") {
            let assignment = text("setVariable");
            let (name, value) = assignment.split_once('=').unwrap_or((assignment, ""));
            let value = self.substitute(value.trim());
            self.variables.insert(name.trim().to_owned(), value);
        } else if let Some(seconds) = action.get("record") {
            let max_length = match seconds {
                Value::String(text) => text.trim().parse().unwrap_or(10),
                other => other.as_u64().unwrap_or(10) as u32,
            }
            .min(3600);
            self.seconds += max_length;
            self.steps.push(Step::Record { max_length });
        } else if action.contains_key("hangup") {
            return Flow::End(Ending::Hangup, None);
        } else if let Some(Value::Array(body)) = action.get("repeat") {
            let until = action.get("until").and_then(Value::as_str);
            let times = match until {
                Some(_) => MAX_REPEATS,
                None => action
                    .get("loopCount")
                    .and_then(Value::as_u64)
                    .unwrap_or(1)
                    .min(MAX_REPEATS as u64) as usize,
            };
            for _ in 0..times {
                match self.block(body).await {
                    Flow::Next => {}
                    other => return other,
                }
                if until.is_some_and(|condition| self.holds(condition)) {
                    break;
                }
            }
        }
        // `label` and anything else: nothing to play.
        Flow::Next
    }

    /// `collectInto`: the persona's keys for this collect, up to
    /// `maxInputLength` of them or the `#` that ends the input.
    fn collect(&mut self, variable: &str, options: Option<&Value>) {
        let max_length = options
            .and_then(|options| options.get("maxInputLength"))
            .and_then(Value::as_u64)
            .filter(|n| *n > 0)
            .unwrap_or(u64::MAX) as usize;
        let timeout = options
            .and_then(|options| options.get("timeout"))
            .and_then(Value::as_u64)
            .unwrap_or(5)
            .min(600) as u32;
        let keys = self.persona.keys_at(self.gathers).unwrap_or_default();
        self.gathers += 1;
        let digits: String = keys.chars().take_while(|key| *key != '#').take(max_length).collect();
        self.seconds += if digits.is_empty() { timeout } else { 2 };
        self.steps.push(Step::Gather {
            digits: (!digits.is_empty()).then(|| digits.clone()),
            timed_out: digits.is_empty(),
        });
        self.variables.insert(variable.to_owned(), digits.clone());
        self.collected.push((variable.to_owned(), digits));
    }

    /// `request`: an HTTP call (GET by default), its answer optionally kept
    /// in the `saveResponse` variable. A failed request does not end the call.
    async fn request(&mut self, action: &Map<String, Value>) -> Flow {
        self.requests += 1;
        if self.requests > MAX_REQUESTS {
            return Flow::End(
                Ending::Error,
                Some(format!("more than {MAX_REQUESTS} requests: a loop?")),
            );
        }
        let raw = self.substitute(action.get("request").and_then(Value::as_str).unwrap_or_default());
        let url = match reqwest::Url::parse(raw.trim()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => url,
            _ => return Flow::End(Ending::Error, Some(format!("'{raw}' is not an http(s) URL"))),
        };
        let method = match action.get("method").and_then(Value::as_str) {
            Some(method) if method.eq_ignore_ascii_case("POST") => Method::Post,
            _ => Method::Get,
        };
        let mut request = match method {
            Method::Get => self.client.get(url.clone()),
            Method::Post => self.client.post(url.clone()),
        };
        if let Some(headers) = action.get("headers").and_then(Value::as_object) {
            for (name, value) in headers {
                if let Some(value) = value.as_str() {
                    request = request.header(name.as_str(), self.substitute(value));
                }
            }
        }
        match action.get("body") {
            Some(Value::String(body)) => request = request.body(self.substitute(body)),
            Some(body @ Value::Object(_)) => {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(self.substitute(&body.to_string()))
            }
            _ => {}
        }
        let started = Instant::now();
        let (status, body, error) = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                match read_limited(response).await {
                    Ok(body) => (Some(status), Some(body), None),
                    Err(error) => (Some(status), None, Some(error)),
                }
            }
            Err(error) => (None, None, Some(describe(&error))),
        };
        self.seconds += started.elapsed().as_secs() as u32;
        let failed = status.is_none_or(|status| !(200..300).contains(&status));
        self.steps.push(Step::Request {
            method,
            url: redacted(&url),
            status,
            millis: started.elapsed().as_millis() as u64,
            error,
            body: body
                .as_ref()
                .filter(|_| failed)
                .map(|body| body.chars().take(2000).collect()),
        });
        if let Some(variable) = action.get("saveResponse").and_then(Value::as_str) {
            let kept: String = body.unwrap_or_default().chars().take(MAX_SAVED_RESPONSE).collect();
            self.variables.insert(variable.to_owned(), kept);
        }
        Flow::Next
    }

    /// `${name}` replaced by the variable's value, or by nothing when unset.
    fn substitute(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            match rest[start + 2..].find('}') {
                Some(end) => {
                    let name = &rest[start + 2..start + 2 + end];
                    out.push_str(self.variables.get(name.trim()).map_or("", String::as_str));
                    rest = &rest[start + 3 + end..];
                }
                None => {
                    out.push_str(&rest[start..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// `a == b`, `!=`, `>=`, `<=`, `>`, `<` (as numbers when both sides are
    /// numbers, else as text); a lone value holds unless empty, `false` or `0`.
    fn holds(&self, condition: &str) -> bool {
        let condition = self.substitute(condition);
        for operator in ["==", "!=", ">=", "<=", ">", "<"] {
            if let Some((left, right)) = condition.split_once(operator) {
                let (left, right) = (unquote(left), unquote(right));
                let ordering = match (left.parse::<f64>(), right.parse::<f64>()) {
                    (Ok(l), Ok(r)) => l.partial_cmp(&r),
                    _ => Some(left.cmp(right)),
                };
                let Some(ordering) = ordering else { return false };
                return match operator {
                    "==" => ordering.is_eq(),
                    "!=" => ordering.is_ne(),
                    ">=" => ordering.is_ge(),
                    "<=" => ordering.is_le(),
                    ">" => ordering.is_gt(),
                    _ => ordering.is_lt(),
                };
            }
        }
        !matches!(unquote(&condition), "" | "false" | "0")
    }
}

fn unquote(side: &str) -> &str {
    let side = side.trim();
    side.strip_prefix(['\'', '"'])
        .and_then(|s| s.strip_suffix(['\'', '"']))
        .unwrap_or(side)
}

fn names_label(action: &Value, label: &str) -> bool {
    action.get("label").and_then(Value::as_str) == Some(label)
        || action.get("actionId").is_some_and(|id| match id {
            Value::String(id) => id == label,
            other => other.as_i64().is_some() && other.as_i64() == label.parse().ok(),
        })
}

/// A client for scripts' `request` actions: bounded, no more than 3 redirects.
pub fn client(timeout: Duration) -> reqwest::Client {
    super::engine::client(timeout)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn call(script: Value, persona: Persona) -> ScriptCall {
        ScriptCall {
            from: "38761000111".into(),
            to: "14155550123".into(),
            script,
            variables: [("name".to_owned(), "Ana".to_owned())].into(),
            persona,
        }
    }

    async fn play(script: Value, presses: &[&str]) -> ScriptOutcome {
        let persona = Persona {
            presses: presses.iter().map(|p| (*p).to_owned()).collect(),
            ..Persona::default()
        };
        play_script(&client(Duration::from_secs(1)), &call(script, persona)).await
    }

    #[tokio::test]
    async fn a_menu_follows_the_keys_pressed_and_substitutes_variables() {
        let script = json!([
            {"say": "Hello ${name}, calling ${to}"},
            {"collectInto": "choice", "options": {"maxInputLength": 1}},
            {"switch": "${choice}", "case": {"1": [{"say": "Sales"}], "__default": [{"say": "Bye"}, {"hangup": ""}]}},
            {"if": "${choice} == 1", "then": [{"setVariable": "n=2"}]},
            {"say": "n is ${n}"}
        ]);
        let outcome = play(script.clone(), &["17"]).await;
        let said: Vec<_> = outcome
            .transcript
            .steps
            .iter()
            .filter_map(|step| match step {
                Step::Say { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(said, ["Hello Ana, calling 14155550123", "Sales", "n is 2"]);
        assert_eq!(outcome.collected, [("choice".to_owned(), "1".to_owned())]);
        assert_eq!(outcome.transcript.ended, Ending::Completed);

        let outcome = play(script, &[]).await;
        assert_eq!(outcome.collected, [("choice".to_owned(), String::new())]);
        assert_eq!(outcome.transcript.ended, Ending::Hangup);
    }

    #[tokio::test]
    async fn go_to_and_repeat_loop_until_capped() {
        let outcome = play(json!([{"label": "top"}, {"say": "again"}, {"goTo": "top"}]), &[]).await;
        assert_eq!(outcome.transcript.ended, Ending::Error);
        assert!(outcome.transcript.error.unwrap().contains("steps"));
        let outcome = play(
            json!([{"setVariable": "x=0"}, {"repeat": [{"collectInto": "x"}], "until": "${x} == 3"}]),
            &["1", "2", "3", "4"],
        )
        .await;
        assert_eq!(outcome.collected.len(), 3);
        let outcome = play(json!([{"goTo": "nowhere"}]), &[]).await;
        assert_eq!(
            outcome.transcript.error.as_deref(),
            Some("goTo 'nowhere': no such top-level label")
        );
    }

    #[tokio::test]
    async fn a_busy_callee_plays_nothing() {
        let persona = Persona {
            answer: Answer::Busy,
            ..Persona::default()
        };
        let outcome = play_script(&client(Duration::from_secs(1)), &call(json!([{"say": "x"}]), persona)).await;
        assert_eq!(
            (outcome.transcript.ended, outcome.transcript.steps.len()),
            (Ending::Busy, 0)
        );
    }

    #[test]
    fn conditions_compare_numbers_as_numbers() {
        let persona = Persona::default();
        let client = client(Duration::from_secs(1));
        let player = Player {
            client: &client,
            persona: &persona,
            variables: [("a".to_owned(), "10".to_owned())].into(),
            steps: Vec::new(),
            collected: Vec::new(),
            played: 0,
            requests: 0,
            gathers: 0,
            seconds: 0,
        };
        assert!(player.holds("${a} > 9"));
        assert!(player.holds("${a} == '10'"));
        assert!(!player.holds("${a} < 9"));
        assert!(!player.holds("${missing}"));
        assert!(player.holds("yes"));
    }
}
