//! An IVR scenario's script: an array of actions, each an object named by
//! one action key (`say`, `collectInto`, `switch`…). Every action the
//! emulator supports is checked for its shape; any other is refused by name.

use std::collections::BTreeMap;

use serde_json::Value;

/// The action keys a script may use; anything else is refused by name.
pub const ACTIONS: [&str; 15] = [
    "say",
    "play",
    "pause",
    "collectInto",
    "switch",
    "if",
    "goTo",
    "dial",
    "request",
    "sendSms",
    "setVariable",
    "record",
    "hangup",
    "label",
    "repeat",
];

/// Keys that may sit beside an action's own key (its options).
const OPTION_KEYS: [&str; 14] = [
    "language",
    "speechRate",
    "voice",
    "loopCount",
    "options",
    "case",
    "then",
    "else",
    "actionId",
    "method",
    "headers",
    "body",
    "saveResponse",
    "until",
];

/// Validation errors in Infobip's shape: each bad path with its sentences.
pub type Errors = BTreeMap<String, Vec<String>>;

/// Checks a scenario body: `name` (1-256 characters), optional
/// `description`, and `script`, a non-empty array of actions.
pub fn check(body: &Value) -> Result<(String, Option<String>, Value), Errors> {
    let mut errors = Errors::new();
    let mut add = |field: &str, message: &str| errors.entry(field.to_owned()).or_default().push(message.to_owned());
    let Some(object) = body.as_object() else {
        add("body", "must be a JSON object");
        return Err(errors);
    };
    let name = match object.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() && name.chars().count() <= 256 && !name.contains('\0') => {
            Some(name.clone())
        }
        Some(Value::String(_)) => {
            add("name", "must be 1 to 256 characters");
            None
        }
        None | Some(Value::Null) => {
            add("name", "must not be blank");
            None
        }
        Some(_) => {
            add("name", "must be a string");
            None
        }
    };
    let description = match object.get("description") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.chars().count() <= 1024 && !text.contains('\0') => Some(text.clone()),
        Some(_) => {
            add("description", "must be a string of at most 1024 characters");
            None
        }
    };
    let script = object.get("script").cloned().unwrap_or(Value::Null);
    match &script {
        Value::Array(actions) if !actions.is_empty() => check_actions(actions, "script", 0, &mut errors),
        Value::Array(_) | Value::Null => errors
            .entry("script".into())
            .or_default()
            .push("must not be empty".into()),
        _ => errors
            .entry("script".into())
            .or_default()
            .push("must be an array of actions".into()),
    }
    if errors.is_empty() {
        Ok((name.expect("checked"), description, script))
    } else {
        Err(errors)
    }
}

fn check_actions(actions: &[Value], path: &str, depth: usize, errors: &mut Errors) {
    if depth > 8 {
        errors
            .entry(path.to_owned())
            .or_default()
            .push("actions nest deeper than 8 levels".into());
        return;
    }
    if actions.len() > 200 {
        errors
            .entry(path.to_owned())
            .or_default()
            .push("at most 200 actions".into());
        return;
    }
    for (index, action) in actions.iter().enumerate() {
        let at = format!("{path}[{index}]");
        if let Err(message) = check_action(action, &at, depth, errors) {
            errors.entry(at).or_default().push(message);
        }
    }
}

fn check_action(action: &Value, at: &str, depth: usize, errors: &mut Errors) -> Result<(), String> {
    let object = action
        .as_object()
        .ok_or("must be an action object, e.g. {\"say\": \"Hello\"}")?;
    let named: Vec<&String> = object
        .keys()
        .filter(|key| !OPTION_KEYS.contains(&key.as_str()))
        .collect();
    let key = match named.as_slice() {
        [key] => key.as_str(),
        [] => return Err("names no action".into()),
        more => {
            return Err(format!(
                "names several actions: {}",
                more.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
    };
    if !ACTIONS.contains(&key) {
        return Err(format!(
            "unsupported action '{}'",
            key.chars().take(40).collect::<String>()
        ));
    }
    let value = &object[key];
    let text = |value: &Value| {
        value
            .as_str()
            .is_some_and(|s| !s.is_empty() && s.len() <= 4096 && !s.contains('\0'))
    };
    match key {
        "say" | "play" | "collectInto" | "dial" | "request" | "sendSms" | "setVariable" | "label" if !text(value) => {
            Err(format!("'{key}' must be a non-empty string"))
        }
        "pause" if !value.as_f64().is_some_and(|seconds| (0.0..=600.0).contains(&seconds)) => {
            Err("'pause' must be a number of seconds from 0 to 600".into())
        }
        "goTo" if !(text(value) || value.is_i64()) => Err("'goTo' must name a label or an actionId".into()),
        "switch" => {
            if !text(value) {
                return Err("'switch' must be a string such as \"${choice}\"".into());
            }
            let cases = object
                .get("case")
                .and_then(Value::as_object)
                .ok_or("'switch' needs a 'case' object")?;
            for (case, actions) in cases {
                match actions.as_array() {
                    Some(actions) => check_actions(actions, &format!("{at}.case.{case}"), depth + 1, errors),
                    None => errors
                        .entry(format!("{at}.case.{case}"))
                        .or_default()
                        .push("must be an array of actions".into()),
                }
            }
            Ok(())
        }
        "if" => {
            if !text(value) {
                return Err("'if' must be a condition such as \"${choice} == 1\"".into());
            }
            for branch in ["then", "else"] {
                match object.get(branch) {
                    None if branch == "else" => {}
                    Some(Value::Array(actions)) => check_actions(actions, &format!("{at}.{branch}"), depth + 1, errors),
                    _ => errors
                        .entry(format!("{at}.{branch}"))
                        .or_default()
                        .push("must be an array of actions".into()),
                }
            }
            Ok(())
        }
        "repeat" => match value.as_array() {
            Some(actions) => {
                check_actions(actions, &format!("{at}.repeat"), depth + 1, errors);
                Ok(())
            }
            None => Err("'repeat' must be an array of actions".into()),
        },
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_scenario_with_every_supported_action_is_accepted() {
        let body = json!({"name": "Welcome", "description": "d", "script": [
            {"say": "Hello ${name}", "language": "en"}, {"play": "https://x/a.wav"}, {"pause": 1.5},
            {"collectInto": "choice", "options": {"maxInputLength": 1, "timeout": 5}},
            {"switch": "${choice}", "case": {"1": [{"request": "http://127.0.0.1:8080/v1/ivr?key=k&from=${to}&to=${from}"}],
                                             "__default": [{"hangup": "done"}]}},
            {"if": "${choice} == 2", "then": [{"dial": "+14155550100"}], "else": [{"sendSms": "Bye"}]},
            {"setVariable": "x=1"}, {"label": "end"}, {"goTo": "end"}, {"record": "10"}, {"repeat": [{"say": "again"}], "until": "${x} == 1"}
        ]});
        let (name, description, script) = check(&body).unwrap();
        assert_eq!(
            (name.as_str(), description.as_deref(), script.as_array().unwrap().len()),
            ("Welcome", Some("d"), 11)
        );
    }

    #[test]
    fn an_unsupported_or_malformed_action_is_named_with_its_path() {
        let body = json!({"name": "x", "script": [
            {"say": "ok"}, {"capture": "speech"}, {"pause": "long"},
            {"switch": "${c}", "case": {"1": [{"conference": "room"}]}}, {"say": "a", "play": "b"}, 7
        ]});
        let errors = check(&body).unwrap_err();
        assert_eq!(errors["script[1]"], ["unsupported action 'capture'"]);
        assert_eq!(
            errors["script[2]"],
            ["'pause' must be a number of seconds from 0 to 600"]
        );
        assert_eq!(errors["script[3].case.1[0]"], ["unsupported action 'conference'"]);
        assert_eq!(errors["script[4]"], ["names several actions: play, say"]);
        assert!(errors["script[5]"][0].starts_with("must be an action object"));
        let errors = check(&json!({"script": []})).unwrap_err();
        assert_eq!(
            (errors["name"][0].as_str(), errors["script"][0].as_str()),
            ("must not be blank", "must not be empty")
        );
    }
}
