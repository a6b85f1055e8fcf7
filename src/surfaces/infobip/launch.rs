//! The launch body (`POST /infobip/voice/ivr/1/messages`, the SDK's
//! `CallsLaunchScenarioRequest` of `CallsIvrMessage`s): read field by field
//! so that every problem is named with its path, and clamped where the
//! vendor clamps instead of refusing.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::scenario::Errors;

/// Destinations one launch may hold, over all its messages (the vendor's maximum).
pub const MAX_DESTINATIONS: usize = 20_000;
/// `validityPeriod` (minutes) past which the vendor sets 48 h.
pub const MAX_VALIDITY_MINUTES: i64 = 48 * 60;
/// `retry.maxCount` past which the vendor sets 4.
pub const MAX_RETRIES: i64 = 4;
/// The retry periods the vendor knows, in minutes: others round up to one of them.
pub const RETRY_LADDER: [i64; 12] = [1, 2, 5, 10, 20, 30, 60, 120, 240, 480, 960, 1440];
/// How far ahead `sendAt` may be (the vendor's scheduling limit, 180 days).
const MAX_SCHEDULE_DAYS: i64 = 180;

/// A checked launch.
#[derive(Clone, Debug, PartialEq)]
pub struct Launch {
    pub bulk_id: Option<String>,
    pub messages: Vec<LaunchMessage>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LaunchMessage {
    pub scenario_id: String,
    pub from: Option<String>,
    pub destinations: Vec<Destination>,
    pub parameters: BTreeMap<String, String>,
    pub notify_url: Option<String>,
    pub notify_content_type: &'static str,
    pub notify_content_version: i32,
    pub callback_data: Option<String>,
    /// Clamped to 48 h; `None` when a sending speed makes the vendor ignore it.
    pub validity_minutes: Option<i64>,
    pub send_at: Option<DateTime<Utc>>,
    pub retry: Option<Retry>,
    /// The pause between two consecutive destinations' first calls.
    pub spacing: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    pub to: String,
    pub message_id: Option<String>,
}

/// Retries with their periods on the ladder and the count clamped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    pub min_minutes: i64,
    pub max_minutes: i64,
    pub max_count: i64,
}

impl Retry {
    /// The wait before retry number `retry` (from 1): the ladder from
    /// `minPeriod` up, held at `maxPeriod` once reached.
    pub fn wait_minutes(&self, retry: i64) -> i64 {
        if self.min_minutes >= self.max_minutes {
            return self.max_minutes;
        }
        let start = RETRY_LADDER
            .iter()
            .position(|step| *step >= self.min_minutes)
            .unwrap_or(0);
        let index = start + (retry.max(1) - 1) as usize;
        RETRY_LADDER
            .get(index)
            .copied()
            .unwrap_or(self.max_minutes)
            .min(self.max_minutes)
    }
}

/// A period in minutes rounded up the ladder; over 24 h it is 24 h.
pub fn on_ladder(minutes: i64) -> i64 {
    RETRY_LADDER
        .iter()
        .copied()
        .find(|step| *step >= minutes)
        .unwrap_or(1440)
}

struct Reader<'a> {
    errors: &'a mut Errors,
}

impl Reader<'_> {
    fn add(&mut self, path: &str, message: impl Into<String>) {
        self.errors.entry(path.to_owned()).or_default().push(message.into());
    }

    /// A string field: absent (or null) is `None`; other types are named.
    fn text(&mut self, object: &Map<String, Value>, key: &str, path: &str, max: usize) -> Option<String> {
        match object.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) if text.contains('\0') => {
                self.add(path, "must not contain the NUL character");
                None
            }
            Some(Value::String(text)) if text.chars().count() > max => {
                self.add(path, format!("size must be between 0 and {max}"));
                None
            }
            Some(Value::String(text)) => Some(text.clone()),
            Some(_) => {
                self.add(path, "must be a string");
                None
            }
        }
    }

    fn integer(&mut self, object: &Map<String, Value>, key: &str, path: &str) -> Option<i64> {
        match object.get(key) {
            None | Some(Value::Null) => None,
            Some(value) => match value.as_i64() {
                Some(number) => Some(number),
                None => {
                    self.add(path, "must be a whole number");
                    None
                }
            },
        }
    }
}

/// Checks a launch body; `Err` holds every problem, by path.
pub fn check(body: &Value, now: DateTime<Utc>) -> Result<Launch, Errors> {
    let mut errors = Errors::new();
    let mut reader = Reader { errors: &mut errors };
    let Some(object) = body.as_object() else {
        reader.add("body", "must be a JSON object");
        return Err(errors);
    };
    let bulk_id = reader.text(object, "bulkId", "bulkId", 100);
    if bulk_id.as_deref().is_some_and(|id| id.trim().is_empty()) {
        reader.add("bulkId", "must not be blank");
    }
    let mut messages = Vec::new();
    match object.get("messages") {
        Some(Value::Array(list)) if !list.is_empty() => {
            let mut message_ids = HashSet::new();
            let mut total = 0;
            for (index, message) in list.iter().enumerate() {
                let path = format!("messages[{index}]");
                match message.as_object() {
                    Some(message) => {
                        if let Some(checked) = check_message(message, &path, now, &mut message_ids, &mut reader) {
                            total += checked.destinations.len();
                            messages.push(checked);
                        }
                    }
                    None => reader.add(&path, "must be an object"),
                }
            }
            if total > MAX_DESTINATIONS {
                reader.add(
                    "messages",
                    format!("at most {MAX_DESTINATIONS} destinations in one request, not {total}"),
                );
            }
        }
        Some(Value::Array(_)) | None | Some(Value::Null) => reader.add("messages", "must not be empty"),
        Some(_) => reader.add("messages", "must be an array"),
    }
    if errors.is_empty() {
        Ok(Launch { bulk_id, messages })
    } else {
        Err(errors)
    }
}

fn check_message(
    object: &Map<String, Value>,
    path: &str,
    now: DateTime<Utc>,
    message_ids: &mut HashSet<String>,
    reader: &mut Reader<'_>,
) -> Option<LaunchMessage> {
    let at = |field: &str| format!("{path}.{field}");
    let errors_before = reader.errors.len();
    let scenario_id = reader.text(object, "scenarioId", &at("scenarioId"), 64);
    if scenario_id.as_deref().is_none_or(|id| id.trim().is_empty()) && !reader.errors.contains_key(&at("scenarioId")) {
        reader.add(&at("scenarioId"), "must not be blank");
    }
    let from = reader.text(object, "from", &at("from"), 64);
    if let Some(from) = &from
        && !(3..=14).contains(&from.trim_start_matches('+').len())
    {
        reader.add(
            &at("from"),
            "numeric sender ID length should be between 3 and 14 characters",
        );
    }
    let mut destinations = Vec::new();
    match object.get("destinations") {
        Some(Value::Array(list)) if !list.is_empty() => {
            for (index, destination) in list.iter().enumerate() {
                let here = format!("{path}.destinations[{index}]");
                let Some(destination) = destination.as_object() else {
                    reader.add(&here, "must be an object with 'to'");
                    continue;
                };
                let to = reader.text(destination, "to", &format!("{here}.to"), 64);
                let message_id = reader.text(destination, "messageId", &format!("{here}.messageId"), 200);
                match to {
                    Some(to) if is_number(&to) => {
                        if let Some(id) = &message_id
                            && !message_ids.insert(id.clone())
                        {
                            reader.add(&format!("{here}.messageId"), "must be unique within the request");
                        }
                        destinations.push(Destination { to, message_id });
                    }
                    Some(_) => reader.add(&format!("{here}.to"), "must be a phone number in international format"),
                    None if !reader.errors.contains_key(&format!("{here}.to")) => {
                        reader.add(&format!("{here}.to"), "must not be blank")
                    }
                    None => {}
                }
            }
        }
        Some(Value::Array(_)) | None | Some(Value::Null) => reader.add(&at("destinations"), "must not be empty"),
        Some(_) => reader.add(&at("destinations"), "must be an array"),
    }
    let mut parameters = BTreeMap::new();
    match object.get("parameters") {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (name, value) in map {
                if name.is_empty() || name.len() > 256 || name.contains('\0') {
                    reader.add(
                        &format!("{path}.parameters"),
                        "names must be 1 to 256 characters, no NUL",
                    );
                    continue;
                }
                match value {
                    Value::String(value) if !value.contains('\0') && value.len() <= 4096 => {
                        parameters.insert(name.clone(), value.clone());
                    }
                    _ => reader.add(
                        &format!("{path}.parameters.{name}"),
                        "must be a string of at most 4096 characters",
                    ),
                }
            }
        }
        Some(_) => reader.add(&at("parameters"), "must be an object of strings"),
    }
    let notify_url = reader.text(object, "notifyUrl", &at("notifyUrl"), 2048);
    if let Some(url) = &notify_url
        && !reqwest::Url::parse(url).is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
    {
        reader.add(&at("notifyUrl"), "must be an http(s) URL");
    }
    let notify_content_type = match reader.text(object, "notifyContentType", &at("notifyContentType"), 64) {
        None => "application/json",
        Some(kind) if kind.eq_ignore_ascii_case("application/json") => "application/json",
        Some(kind) if kind.eq_ignore_ascii_case("application/xml") => "application/xml",
        Some(_) => {
            reader.add(&at("notifyContentType"), "must be application/json or application/xml");
            "application/json"
        }
    };
    let notify_content_version = match reader.integer(object, "notifyContentVersion", &at("notifyContentVersion")) {
        None | Some(2) => 2,
        Some(1) => 1,
        Some(_) => {
            reader.add(&at("notifyContentVersion"), "must be 1 or 2");
            2
        }
    };
    let callback_data = reader.text(object, "callbackData", &at("callbackData"), 200);
    let validity = match reader.integer(object, "validityPeriod", &at("validityPeriod")) {
        None => MAX_VALIDITY_MINUTES,
        Some(minutes) if minutes < 1 => {
            reader.add(&at("validityPeriod"), "must be at least 1 minute");
            MAX_VALIDITY_MINUTES
        }
        Some(minutes) => minutes.min(MAX_VALIDITY_MINUTES),
    };
    let send_at = match object.get("sendAt") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => match parse_time(text) {
            Some(at_time) if at_time > now + chrono::Duration::days(MAX_SCHEDULE_DAYS) => {
                reader.add(&at("sendAt"), format!("must be at most {MAX_SCHEDULE_DAYS} days ahead"));
                None
            }
            // In the past: sent at once.
            Some(at_time) => Some(at_time),
            None => {
                reader.add(&at("sendAt"), "must be a time such as 2026-12-05T16:00:00.000+0000");
                None
            }
        },
        Some(_) => {
            reader.add(&at("sendAt"), "must be a string");
            None
        }
    };
    let retry = match object.get("retry") {
        None | Some(Value::Null) => None,
        Some(Value::Object(retry)) => check_retry(retry, &at("retry"), reader),
        Some(_) => {
            reader.add(&at("retry"), "must be an object");
            None
        }
    };
    let spacing = match object.get("sendingSpeed") {
        None | Some(Value::Null) => None,
        Some(Value::Object(speed)) => check_speed(speed, &at("sendingSpeed"), reader),
        Some(_) => {
            reader.add(&at("sendingSpeed"), "must be an object");
            None
        }
    };
    for (key, max) in [("ringTimeout", 600), ("pause", 10), ("callTimeout", 86_400)] {
        if let Some(value) = reader.integer(object, key, &at(key))
            && !(0..=max).contains(&value)
        {
            reader.add(&at(key), format!("must be from 0 to {max}"));
        }
    }
    if reader.errors.len() > errors_before {
        return None;
    }
    Some(LaunchMessage {
        scenario_id: scenario_id?,
        from,
        destinations,
        parameters,
        notify_url,
        notify_content_type,
        notify_content_version,
        callback_data,
        // "If sendingSpeed is defined, validityPeriod is ignored" (the SDK's CallsSendingSpeed).
        validity_minutes: spacing.is_none().then_some(validity),
        send_at,
        retry,
        spacing,
    })
}

fn check_retry(retry: &Map<String, Value>, path: &str, reader: &mut Reader<'_>) -> Option<Retry> {
    let field = |name: &str, reader: &mut Reader<'_>| {
        let here = format!("{path}.{name}");
        match reader.integer(retry, name, &here) {
            None if !reader.errors.contains_key(&here) => {
                reader.add(&here, "must not be null");
                None
            }
            Some(value) if value < if name == "maxCount" { 0 } else { 1 } => {
                reader.add(&here, "must not be negative or zero");
                None
            }
            other => other,
        }
    };
    let min = field("minPeriod", reader);
    let max = field("maxPeriod", reader);
    let count = field("maxCount", reader);
    let (min, max, count) = (on_ladder(min?), on_ladder(max?), count?.min(MAX_RETRIES));
    if min > max {
        reader.add(&format!("{path}.maxPeriod"), "must not be less than minPeriod");
        return None;
    }
    Some(Retry {
        min_minutes: min,
        max_minutes: max,
        max_count: count,
    })
}

fn check_speed(speed: &Map<String, Value>, path: &str, reader: &mut Reader<'_>) -> Option<Duration> {
    let count = match reader.integer(speed, "speed", &format!("{path}.speed")) {
        Some(count) if count >= 1 => Some(count),
        Some(_) | None => {
            reader.add(&format!("{path}.speed"), "must be at least 1");
            None
        }
    };
    let unit = match reader
        .text(speed, "timeUnit", &format!("{path}.timeUnit"), 16)
        .as_deref()
    {
        // The vendor's default unit.
        None => Some(60),
        Some(unit) => match unit.to_ascii_lowercase().as_str() {
            "second" => Some(1),
            "minute" => Some(60),
            "hour" => Some(3600),
            "day" => Some(86_400),
            _ => {
                reader.add(&format!("{path}.timeUnit"), "must be one of second, minute, hour, day");
                None
            }
        },
    };
    Some(Duration::from_secs_f64(unit? as f64 / count? as f64))
}

/// Infobip writes `2026-12-05T16:00:00.000+0000`; RFC 3339 is taken too.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

/// Infobip's time format: `yyyy-MM-dd'T'HH:mm:ss.SSSZ`.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string()
}

/// A destination in international format: digits, optionally after a `+`.
fn is_number(to: &str) -> bool {
    let digits = to.strip_prefix('+').unwrap_or(to);
    (3..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn now() -> DateTime<Utc> {
        parse_time("2026-12-05T10:00:00Z").unwrap()
    }

    #[test]
    fn over_limit_values_are_clamped_not_refused() {
        let body = json!({"bulkId": "b-1", "messages": [{
            "scenarioId": "S1", "from": "38515507799", "destinations": [{"to": "41793026727"}, {"to": "+41793026728", "messageId": "m-2"}],
            "validityPeriod": 10000, "retry": {"minPeriod": 3, "maxPeriod": 100000, "maxCount": 9},
            "notifyContentType": "application/xml", "notifyContentVersion": 1, "callbackData": "x", "parameters": {"name": "Ana"}
        }]});
        let launch = check(&body, now()).unwrap();
        let message = &launch.messages[0];
        assert_eq!(message.validity_minutes, Some(2880));
        assert_eq!(
            message.retry,
            Some(Retry {
                min_minutes: 5,
                max_minutes: 1440,
                max_count: 4
            })
        );
        assert_eq!(
            (message.notify_content_type, message.notify_content_version),
            ("application/xml", 1)
        );
        assert_eq!(message.destinations[1].message_id.as_deref(), Some("m-2"));
    }

    #[test]
    fn retry_waits_climb_the_ladder_up_to_max_period() {
        let retry = Retry {
            min_minutes: 2,
            max_minutes: 20,
            max_count: 4,
        };
        let waits: Vec<i64> = (1..=5).map(|n| retry.wait_minutes(n)).collect();
        assert_eq!(waits, [2, 5, 10, 20, 20]);
        let equal = Retry {
            min_minutes: 10,
            max_minutes: 10,
            max_count: 4,
        };
        assert_eq!(equal.wait_minutes(3), 10);
        assert_eq!(
            (on_ladder(0), on_ladder(7), on_ladder(61), on_ladder(5000)),
            (1, 10, 120, 1440)
        );
    }

    #[test]
    fn a_sending_speed_spaces_calls_and_drops_the_validity() {
        let body = json!({"messages": [{"scenarioId": "S", "destinations": [{"to": "41793026727"}],
            "validityPeriod": 5, "sendingSpeed": {"speed": 10, "timeUnit": "HOUR"}}]});
        let message = &check(&body, now()).unwrap().messages[0];
        assert_eq!(
            (message.spacing, message.validity_minutes),
            (Some(Duration::from_secs(360)), None)
        );
    }

    #[test]
    fn every_problem_is_named_with_its_path() {
        let body = json!({"messages": [{
            "destinations": [{"to": "abc"}, {}, {"to": "41793026727", "messageId": "x"}, {"to": "41793026728", "messageId": "x"}],
            "callbackData": "c".repeat(201), "notifyUrl": "ftp://x", "notifyContentType": "text/plain",
            "notifyContentVersion": 3, "validityPeriod": "soon", "sendAt": "tomorrow",
            "retry": {"minPeriod": 10, "maxPeriod": 2}, "sendingSpeed": {"speed": 0, "timeUnit": "week"}, "parameters": {"n": 1}
        }, 5]});
        let errors = check(&body, now()).unwrap_err();
        let paths: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            [
                "messages[0].callbackData",
                "messages[0].destinations[0].to",
                "messages[0].destinations[1].to",
                "messages[0].destinations[3].messageId",
                "messages[0].notifyContentType",
                "messages[0].notifyContentVersion",
                "messages[0].notifyUrl",
                "messages[0].parameters.n",
                "messages[0].retry.maxCount",
                "messages[0].scenarioId",
                "messages[0].sendAt",
                "messages[0].sendingSpeed.speed",
                "messages[0].sendingSpeed.timeUnit",
                "messages[0].validityPeriod",
                "messages[1]",
            ]
        );
        assert_eq!(errors["messages[0].callbackData"], ["size must be between 0 and 200"]);
        assert_eq!(
            check(&json!({"messages": []}), now()).unwrap_err()["messages"],
            ["must not be empty"]
        );
    }

    #[test]
    fn more_than_20000_destinations_are_refused() {
        let destinations: Vec<Value> = (0..20_001).map(|i| json!({"to": format!("4179{i:07}")})).collect();
        let body = json!({"messages": [{"scenarioId": "S", "destinations": destinations}]});
        assert_eq!(
            check(&body, now()).unwrap_err()["messages"],
            ["at most 20000 destinations in one request, not 20001"]
        );
    }

    #[test]
    fn times_read_and_write_in_infobip_format() {
        let time = parse_time("2026-12-05T16:00:00.000+0000").unwrap();
        assert_eq!(format_time(time), "2026-12-05T16:00:00.000+0000");
    }
}
