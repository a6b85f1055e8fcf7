//! Plays a call: fetches TwiML as Twilio would (its request parameters,
//! signed when given the account's token), plays each verb against the
//! persona, follows Gather and Dial actions and Redirects, and writes down
//! every step. Never fails: whatever goes wrong ends the call with an error
//! in the transcript.

use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::persona::{Answer, Persona};
use super::transcript::{Ending, Step, Transcript};
use super::twiml::{self, MAX_DOCUMENT_BYTES, Method, Verb};
use crate::platform::twilio_signature;

/// Requests one call may make before it is ended as a loop.
pub const MAX_REQUESTS: usize = 25;
/// Steps one call may play before it is ended as a loop.
pub const MAX_STEPS: usize = 500;

/// A call to play.
#[derive(Clone, Debug)]
pub struct Call {
    /// Where the first TwiML document comes from.
    pub url: String,
    pub method: Method,
    pub from: String,
    pub to: String,
    pub persona: Persona,
    /// The Twilio auth token to sign requests with (`X-Twilio-Signature`).
    pub auth_token: Option<String>,
    /// Extra parameters of the first request only (e.g. a hook's `key`).
    pub first_params: Vec<(String, String)>,
    /// The first request's JSON body instead of Twilio's form (a POST; the
    /// `call` command's `--method post`).
    pub first_json: Option<serde_json::Value>,
}

/// The HTTP client calls are played with.
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::limited(3))
        .user_agent("TwilioProxy/1.1 (ivr-gateway simulator)")
        .build()
        .expect("a client with these settings always builds")
}

struct Fetch {
    url: String,
    method: Method,
    params: Vec<(String, String)>,
}

/// The state of a call being played.
struct Player<'a> {
    client: &'a reqwest::Client,
    call: &'a Call,
    call_sid: String,
    account_sid: String,
    steps: Vec<Step>,
    requests: usize,
    played: usize,
    gathers: usize,
}

enum Next {
    Fetch(Fetch),
    End(Ending, Option<String>),
}

pub async fn play(client: &reqwest::Client, call: &Call) -> Transcript {
    let started = Instant::now();
    let mut player = Player {
        client,
        call,
        call_sid: format!("CA{}", uuid::Uuid::new_v4().simple()),
        account_sid: format!("AC{}", uuid::Uuid::new_v4().simple()),
        steps: Vec::new(),
        requests: 0,
        played: 0,
        gathers: 0,
    };
    let (ended, error) = match call.persona.answer {
        Answer::Busy => (Ending::Busy, None),
        Answer::NoAnswer => (Ending::NoAnswer, None),
        Answer::Failed => (Ending::Failed, None),
        Answer::Answers | Answer::Machine => player.run().await,
    };
    Transcript {
        call_sid: player.call_sid,
        from: call.from.clone(),
        to: call.to.clone(),
        steps: player.steps,
        ended,
        error,
        duration_ms: started.elapsed().as_millis() as u64,
    }
}

impl Player<'_> {
    async fn run(&mut self) -> (Ending, Option<String>) {
        let mut fetch = Fetch {
            url: self.call.url.clone(),
            method: self.call.method,
            params: self.call.first_params.clone(),
        };
        loop {
            self.requests += 1;
            if self.requests > MAX_REQUESTS {
                return (
                    Ending::Error,
                    Some(format!("more than {MAX_REQUESTS} requests: a redirect loop?")),
                );
            }
            let (base, document) = match self.fetch(fetch).await {
                Ok(fetched) => fetched,
                Err(error) => return (Ending::Error, Some(error)),
            };
            let verbs = match twiml::parse(&document) {
                Ok(verbs) => verbs,
                Err(error) => return (Ending::Error, Some(format!("invalid TwiML from {base}: {error}"))),
            };
            match self.perform(&base, verbs) {
                Next::Fetch(next) => fetch = next,
                Next::End(ending, error) => return (ending, error),
            }
        }
    }

    /// Plays a document's verbs until one leads elsewhere or ends the call.
    fn perform(&mut self, base: &reqwest::Url, verbs: Vec<Verb>) -> Next {
        for verb in verbs {
            self.played += 1;
            if self.call.persona.hang_up_at.is_some_and(|at| self.played >= at) {
                return Next::End(Ending::CallerHungUp, None);
            }
            if self.played > MAX_STEPS {
                return Next::End(Ending::Error, Some(format!("more than {MAX_STEPS} steps: a loop?")));
            }
            match verb {
                Verb::Say { text, language, loops } => {
                    for _ in 0..loops {
                        self.steps.push(Step::Say {
                            text: text.clone(),
                            language: language.clone(),
                        });
                    }
                }
                Verb::Play { url, loops } => {
                    for _ in 0..loops {
                        self.steps.push(Step::Play { url: url.clone() });
                    }
                }
                Verb::Pause { seconds } => self.steps.push(Step::Pause { seconds }),
                Verb::Gather(mut gather) => {
                    for prompt in std::mem::take(&mut gather.prompts) {
                        match prompt {
                            Verb::Say { text, language, .. } => self.steps.push(Step::Say { text, language }),
                            Verb::Play { url, .. } => self.steps.push(Step::Play { url }),
                            Verb::Pause { seconds } => self.steps.push(Step::Pause { seconds }),
                            _ => {}
                        }
                    }
                    let keys = self
                        .call
                        .persona
                        .keys_at(self.gathers)
                        .map(|keys| pressed(keys, &gather));
                    self.gathers += 1;
                    match keys.filter(|digits| !digits.is_empty()) {
                        Some(digits) => {
                            self.steps.push(Step::Gather {
                                digits: Some(digits.clone()),
                                timed_out: false,
                            });
                            let action = gather.action.unwrap_or_else(|| base.to_string());
                            return self.follow(base, &action, gather.method, vec![("Digits".into(), digits)]);
                        }
                        // Nothing pressed: Twilio falls through to the next verb.
                        None => self.steps.push(Step::Gather {
                            digits: None,
                            timed_out: true,
                        }),
                    }
                }
                Verb::Dial(dial) => {
                    let outcome = self.call.persona.dialled(&dial.target).dial_call_status();
                    self.steps.push(Step::Dial {
                        number: dial.target.clone(),
                        outcome: outcome.to_owned(),
                    });
                    if let Some(action) = dial.action {
                        return self.follow(
                            base,
                            &action,
                            dial.method,
                            vec![("DialCallStatus".into(), outcome.into())],
                        );
                    }
                    // Without an action Twilio goes on with the next verb, whatever the outcome.
                }
                Verb::Redirect { url, method } => return self.follow(base, &url, method, Vec::new()),
                Verb::Hangup => return Next::End(Ending::Hangup, None),
                Verb::Reject { .. } => return Next::End(Ending::Rejected, None),
                Verb::Sms { to, body, .. } => self.steps.push(Step::Sms { to, body }),
                Verb::Record {
                    action,
                    method,
                    max_length,
                } => {
                    self.steps.push(Step::Record { max_length });
                    if let Some(action) = action {
                        let params = vec![
                            (
                                "RecordingUrl".into(),
                                format!("https://api.twilio.com/recordings/RE{}", uuid::Uuid::new_v4().simple()),
                            ),
                            ("RecordingDuration".into(), "1".into()),
                        ];
                        return self.follow(base, &action, method, params);
                    }
                }
            }
        }
        Next::End(Ending::Completed, None)
    }

    fn follow(&self, base: &reqwest::Url, target: &str, method: Method, params: Vec<(String, String)>) -> Next {
        match base.join(target.trim()) {
            Ok(url) => Next::Fetch(Fetch {
                url: url.to_string(),
                method,
                params,
            }),
            Err(error) => Next::End(Ending::Error, Some(format!("'{target}' is not a URL: {error}"))),
        }
    }

    /// Twilio's parameters of every request, then this request's own.
    fn parameters(&self, own: Vec<(String, String)>) -> Vec<(String, String)> {
        let status = if self.requests == 1 { "ringing" } else { "in-progress" };
        let mut params: Vec<(String, String)> = [
            ("CallSid", self.call_sid.as_str()),
            ("AccountSid", self.account_sid.as_str()),
            ("From", self.call.from.as_str()),
            ("To", self.call.to.as_str()),
            ("CallStatus", status),
            ("Direction", "inbound"),
            ("ApiVersion", "2010-04-01"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
        if self.call.persona.answer == Answer::Machine {
            params.push(("AnsweredBy".into(), "machine_start".into()));
        }
        params.extend(own);
        params
    }

    /// Requests a document; `Err` (recorded as a step) when it cannot be had.
    async fn fetch(&mut self, fetch: Fetch) -> Result<(reqwest::Url, String), String> {
        let params = self.parameters(fetch.params);
        let mut url = reqwest::Url::parse(&fetch.url).map_err(|e| format!("'{}' is not a URL: {e}", fetch.url))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("'{}' is not an http(s) URL", fetch.url));
        }
        let json = self.call.first_json.as_ref().filter(|_| self.requests == 1);
        let request = match (fetch.method, json) {
            (_, Some(json)) => self
                .client
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(json.to_string()),
            (Method::Get, None) => {
                url.query_pairs_mut().extend_pairs(&params);
                let mut request = self.client.get(url.clone());
                if let Some(token) = &self.call.auth_token {
                    request = request.header(
                        "x-twilio-signature",
                        twilio_signature::compute(token, url.as_str(), &[]),
                    );
                }
                request
            }
            (Method::Post, None) => {
                let body: String = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&params)
                    .finish();
                let mut request = self
                    .client
                    .post(url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(body);
                if let Some(token) = &self.call.auth_token {
                    request = request.header(
                        "x-twilio-signature",
                        twilio_signature::compute(token, url.as_str(), &params),
                    );
                }
                request
            }
        };
        let started = Instant::now();
        // Transcripts are journaled and printed: a `key` (or any secret) in the URL is masked.
        let shown = redacted(&url);
        let answered = request.send().await;
        let millis = |started: Instant| started.elapsed().as_millis() as u64;
        let response = match answered {
            Ok(response) => response,
            Err(error) => {
                let reason = describe(&error);
                self.steps.push(Step::Request {
                    method: fetch.method,
                    url: shown,
                    status: None,
                    millis: millis(started),
                    error: Some(reason.clone()),
                    body: None,
                });
                return Err(reason);
            }
        };
        let status = response.status();
        let body = read_limited(response).await;
        let error_body = body
            .as_ref()
            .ok()
            .filter(|_| !status.is_success())
            .map(|body| body.chars().take(2000).collect());
        self.steps.push(Step::Request {
            method: fetch.method,
            url: shown,
            status: Some(status.as_u16()),
            millis: millis(started),
            error: body.as_ref().err().cloned(),
            body: error_body,
        });
        let body = body?;
        if !status.is_success() {
            let snippet: String = body.chars().take(200).collect();
            return Err(format!("answered HTTP {}: {}", status.as_u16(), snippet.trim()));
        }
        Ok((url, body))
    }
}

/// The URL as the access log shows it: values outside an allow-list masked.
pub(super) fn redacted(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    match url.query() {
        Some(query) => format!("{shown}?{}", crate::platform::telemetry::redact_query(query)),
        None => shown.to_string(),
    }
}

/// The keys a Gather takes from what the persona presses: up to
/// `finishOnKey` (not included) or `numDigits` of them.
fn pressed(keys: &str, gather: &twiml::Gather) -> String {
    let mut digits = String::new();
    for key in keys.chars() {
        if gather.finish_on_key.contains(key) && !gather.finish_on_key.is_empty() {
            break;
        }
        digits.push(key);
        if gather.num_digits.is_some_and(|n| digits.chars().count() >= n) {
            break;
        }
    }
    digits
}

pub(super) async fn read_limited(response: reqwest::Response) -> Result<String, String> {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| describe(&e))?;
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(format!("the answer is over {MAX_DOCUMENT_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| "the answer is not UTF-8".to_owned())
}

pub(super) fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        let mut root: &dyn std::error::Error = error;
        while let Some(source) = root.source() {
            root = source;
        }
        format!("connection refused or unreachable ({root})")
    } else {
        let mut message = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            message.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gather(num_digits: Option<usize>, finish_on_key: &str) -> twiml::Gather {
        twiml::Gather {
            num_digits,
            finish_on_key: finish_on_key.into(),
            timeout: 5,
            action: None,
            method: Method::Post,
            prompts: Vec::new(),
        }
    }

    #[test]
    fn keys_stop_at_the_finish_key_or_the_digit_count() {
        assert_eq!(pressed("12#3", &gather(None, "#")), "12");
        assert_eq!(pressed("12345", &gather(Some(2), "#")), "12");
        assert_eq!(pressed("#", &gather(None, "#")), "");
        assert_eq!(pressed("1*2", &gather(None, "")), "1*2");
    }
}
