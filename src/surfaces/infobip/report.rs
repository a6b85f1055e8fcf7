//! Delivery reports: a call's fate as the SDK's `CallsReport` (status and
//! error groups, `voiceCall` with its DTMF and IVR data), and the bodies
//! pushed to `notifyUrl`: JSON v2 (`results[]` of reports), the flat JSON
//! v1, or XML.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::launch::format_time;

/// An Infobip status or error object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Code {
    pub group_id: i64,
    pub group_name: &'static str,
    pub id: i64,
    pub name: &'static str,
    pub description: &'static str,
}

impl Code {
    pub fn status(&self) -> Value {
        json!({"groupId": self.group_id, "groupName": self.group_name, "id": self.id,
               "name": self.name, "description": self.description})
    }

    pub fn error(&self, permanent: bool) -> Value {
        let mut error = self.status();
        error["permanent"] = Value::Bool(permanent);
        error
    }
}

/// Every destination's status in the launch's answer.
pub const PENDING_ACCEPTED: Code = Code {
    group_id: 1,
    group_name: "PENDING",
    id: 26,
    name: "PENDING_ACCEPTED",
    description: "Message sent to next instance",
};
const DELIVERED: Code = Code {
    group_id: 3,
    group_name: "DELIVERED",
    id: 5,
    name: "DELIVERED_TO_HANDSET",
    description: "Message delivered to handset",
};
const UNDELIVERABLE: Code = Code {
    group_id: 2,
    group_name: "UNDELIVERABLE",
    id: 9,
    name: "UNDELIVERABLE_NOT_DELIVERED",
    description: "Message sent not delivered",
};
const EXPIRED: Code = Code {
    group_id: 4,
    group_name: "EXPIRED",
    id: 15,
    name: "EXPIRED_EXPIRED",
    description: "Message expired",
};
const REJECTED: Code = Code {
    group_id: 5,
    group_name: "REJECTED",
    id: 6,
    name: "REJECTED_NETWORK",
    description: "Network is forbidden",
};
const NORMAL_HANGUP: Code = Code {
    group_id: 0,
    group_name: "OK",
    id: 10000,
    name: "NORMAL_HANGUP",
    description: "The call ended due to a hangup initiated by the caller, callee, or API.",
};
const NO_ERROR: Code = Code {
    group_id: 0,
    group_name: "OK",
    id: 0,
    name: "NO_ERROR",
    description: "No Error",
};
const USER_BUSY: Code = Code {
    group_id: 1,
    group_name: "HANDSET_ERRORS",
    id: 10003,
    name: "USER_BUSY",
    description: "The callee is busy.",
};
const NO_ANSWER: Code = Code {
    group_id: 1,
    group_name: "HANDSET_ERRORS",
    id: 10004,
    name: "NO_ANSWER",
    description: "The callee did not answer.",
};
const DESTINATION_UNREACHABLE: Code = Code {
    group_id: 3,
    group_name: "OPERATOR_ERRORS",
    id: 10005,
    name: "DESTINATION_UNREACHABLE",
    description: "The destination cannot be reached.",
};

/// How the callee took one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pickup {
    Answered,
    Busy,
    NoAnswer,
    /// The number does not exist or the network refused it: never retried.
    Failed,
}

impl Pickup {
    /// The error this pickup ends a call with, when it is not answered.
    fn error(self) -> Code {
        match self {
            Self::Answered => NORMAL_HANGUP,
            Self::Busy => USER_BUSY,
            Self::NoAnswer => NO_ANSWER,
            Self::Failed => DESTINATION_UNREACHABLE,
        }
    }

    /// The name kept in a pending call's `last_error`, read back on expiry.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answered => "NORMAL_HANGUP",
            Self::Busy => "USER_BUSY",
            Self::NoAnswer => "NO_ANSWER",
            Self::Failed => "DESTINATION_UNREACHABLE",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::Answered, Self::Busy, Self::NoAnswer, Self::Failed]
            .into_iter()
            .find(|pickup| pickup.as_str() == name)
    }
}

/// How a destination ended, for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Delivered,
    /// Busy or no answer, with no retry left.
    Undeliverable(Pickup),
    Rejected,
    /// Its validity ran out before a call got through; the last failure, if any.
    Expired(Option<Pickup>),
}

impl Fate {
    /// The call's status in `infobip_calls`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Undeliverable(_) => "undeliverable",
            Self::Rejected => "rejected",
            Self::Expired(_) => "expired",
        }
    }

    fn codes(self) -> (Code, Code, bool) {
        match self {
            Self::Delivered => (DELIVERED, NORMAL_HANGUP, false),
            Self::Undeliverable(pickup) => (UNDELIVERABLE, pickup.error(), false),
            Self::Rejected => (REJECTED, DESTINATION_UNREACHABLE, true),
            Self::Expired(last) => (EXPIRED, last.map_or(NO_ERROR, Pickup::error), false),
        }
    }
}

/// Everything a report says about one destination.
#[derive(Clone, Debug)]
pub struct Facts<'a> {
    pub bulk_id: &'a str,
    pub message_id: &'a str,
    pub from: Option<&'a str>,
    pub to: &'a str,
    pub scenario_id: &'a str,
    pub scenario_name: &'a str,
    pub callback_data: Option<&'a str>,
    /// On the emulator's clock: the first call, and the last one's start.
    pub sent_at: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub fate: Fate,
    /// Seconds on the line (0 unless answered).
    pub line_seconds: u32,
    /// `collectInto` variables and their keys; empty when the script collected nothing.
    pub collected: &'a [(String, String)],
}

/// The report as the SDK's `CallsReport`.
pub fn build(facts: &Facts<'_>) -> Value {
    let (status, error, permanent) = facts.fate.codes();
    let answered = facts.fate == Fate::Delivered;
    let ended_at = facts.started_at + chrono::Duration::seconds(i64::from(facts.line_seconds));
    let mut voice_call = json!({
        "feature": "IVR",
        "startTime": format_time(facts.started_at),
        "endTime": format_time(ended_at),
        "duration": facts.line_seconds,
        "chargedDuration": facts.line_seconds,
    });
    if answered {
        voice_call["answerTime"] = Value::String(format_time(facts.started_at));
    }
    // "null in case of IVR if user did not participate in Collect action".
    if answered && !facts.collected.is_empty() {
        let codes: Vec<&str> = facts.collected.iter().map(|(_, keys)| keys.as_str()).collect();
        voice_call["dtmfCodes"] = Value::String(codes.join(","));
    }
    let mut ivr = json!({"scenarioId": facts.scenario_id, "scenarioName": facts.scenario_name});
    if answered {
        let collected: Map<String, Value> = facts
            .collected
            .iter()
            .map(|(name, keys)| (name.clone(), Value::String(keys.clone())))
            .collect();
        // The SDK types it as a string holding a JSON object.
        ivr["collectedDtmfs"] = Value::String(Value::Object(collected).to_string());
    }
    voice_call["ivr"] = ivr;
    let mut report = json!({
        "bulkId": facts.bulk_id,
        "messageId": facts.message_id,
        "to": facts.to,
        "sentAt": format_time(facts.sent_at),
        "voiceCall": voice_call,
        "price": {"pricePerSecond": 0.0, "currency": "EUR"},
        "status": status.status(),
        "error": error.error(permanent),
    });
    if let Some(from) = facts.from {
        report["from"] = Value::String(from.to_owned());
    }
    if let Some(data) = facts.callback_data {
        report["callbackData"] = Value::String(data.to_owned());
    }
    report
}

/// The deprecated v1 model: no `voiceCall`; its times, duration and DTMF at the top.
pub fn flatten_v1(report: &Value) -> Value {
    let mut flat = Map::new();
    for key in ["bulkId", "messageId", "from", "to", "sentAt", "callbackData"] {
        if let Some(value) = report.get(key) {
            flat.insert(key.into(), value.clone());
        }
    }
    let voice = &report["voiceCall"];
    flat.insert("doneAt".into(), voice["endTime"].clone());
    flat.insert("duration".into(), voice["duration"].clone());
    flat.insert("chargedDuration".into(), voice["chargedDuration"].clone());
    flat.insert(
        "dtmfCodes".into(),
        voice.get("dtmfCodes").cloned().unwrap_or(Value::Null),
    );
    flat.insert("scenarioId".into(), voice["ivr"]["scenarioId"].clone());
    flat.insert("scenarioName".into(), voice["ivr"]["scenarioName"].clone());
    if let Some(collected) = voice["ivr"].get("collectedDtmfs") {
        flat.insert("collectedDtmfs".into(), collected.clone());
    }
    for key in ["price", "status", "error"] {
        flat.insert(key.into(), report[key].clone());
    }
    Value::Object(flat)
}

/// The body pushed to `notifyUrl` for one report.
pub fn payload(report: &Value, content_type: &str, version: i32) -> String {
    let result = if version == 1 {
        flatten_v1(report)
    } else {
        report.clone()
    };
    if content_type == "application/xml" {
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><reportResponse><results><result>");
        write_xml_fields(&result, &mut xml);
        xml.push_str("</result></results></reportResponse>");
        xml
    } else {
        json!({"results": [result]}).to_string()
    }
}

/// An object's fields as elements named by their keys, nested objects nested.
fn write_xml_fields(value: &Value, xml: &mut String) {
    let Some(object) = value.as_object() else { return };
    for (key, value) in object {
        xml.push('<');
        xml.push_str(key);
        xml.push('>');
        match value {
            Value::Object(_) => write_xml_fields(value, xml),
            Value::String(text) => xml.push_str(&quick_xml::escape::escape(text.as_str())),
            Value::Null => {}
            other => xml.push_str(&other.to_string()),
        }
        xml.push_str("</");
        xml.push_str(key);
        xml.push('>');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::surfaces::infobip::launch::parse_time;

    fn facts(fate: Fate, collected: &[(String, String)]) -> Value {
        let at = parse_time("2026-12-05T10:00:00Z").unwrap();
        build(&Facts {
            bulk_id: "bulk-1",
            message_id: "m-1",
            from: Some("38515507799"),
            to: "41793026727",
            scenario_id: "S1",
            scenario_name: "Welcome <&>",
            callback_data: Some("cb"),
            sent_at: at,
            started_at: at,
            fate,
            line_seconds: if fate == Fate::Delivered { 12 } else { 0 },
            collected,
        })
    }

    #[test]
    fn an_answered_call_reports_its_dtmf() {
        let collected = [
            ("choice".to_owned(), "1".to_owned()),
            ("pin".to_owned(), "42".to_owned()),
        ];
        let report = facts(Fate::Delivered, &collected);
        assert_eq!(report["status"]["name"], "DELIVERED_TO_HANDSET");
        assert_eq!(report["voiceCall"]["dtmfCodes"], "1,42");
        assert_eq!(
            report["voiceCall"]["ivr"]["collectedDtmfs"],
            r#"{"choice":"1","pin":"42"}"#
        );
        assert_eq!(report["voiceCall"]["endTime"], "2026-12-05T10:00:12.000+0000");
        assert_eq!(report["callbackData"], "cb");
    }

    #[test]
    fn unanswered_calls_report_their_error_group() {
        let busy = facts(Fate::Undeliverable(Pickup::Busy), &[]);
        assert_eq!(
            (busy["status"]["groupName"].as_str(), busy["error"]["name"].as_str()),
            (Some("UNDELIVERABLE"), Some("USER_BUSY"))
        );
        assert!(busy["voiceCall"].get("dtmfCodes").is_none());
        let expired = facts(Fate::Expired(Some(Pickup::NoAnswer)), &[]);
        assert_eq!(
            (expired["status"]["id"].as_i64(), expired["error"]["name"].as_str()),
            (Some(15), Some("NO_ANSWER"))
        );
        assert_eq!(facts(Fate::Rejected, &[])["error"]["permanent"], true);
    }

    #[test]
    fn v1_is_flat_and_xml_is_escaped() {
        let report = facts(Fate::Delivered, &[("c".to_owned(), "9".to_owned())]);
        let v1: Value = serde_json::from_str(&payload(&report, "application/json", 1)).unwrap();
        let flat = &v1["results"][0];
        assert_eq!(
            (flat["dtmfCodes"].as_str(), flat["doneAt"].as_str()),
            (Some("9"), Some("2026-12-05T10:00:12.000+0000"))
        );
        assert!(flat.get("voiceCall").is_none());
        let xml = payload(&report, "application/xml", 2);
        assert!(xml.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><reportResponse><results><result><bulkId>bulk-1</bulkId>"
        ));
        assert!(xml.contains("<scenarioName>Welcome &lt;&amp;&gt;</scenarioName>"));
        assert!(xml.contains("<status><description>Message delivered to handset</description><groupId>3</groupId><groupName>DELIVERED</groupName>"));
    }
}
