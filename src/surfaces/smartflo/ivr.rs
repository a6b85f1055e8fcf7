//! A Smartflo IVR: the create/update body checked field by field (every
//! `*` field of Smartflo's page required, with its type), its references
//! resolved against what the account declares, and the shape Smartflo
//! reads it back in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What an account's IVRs may refer to.
pub trait Catalogue {
    fn has_recording(&self, id: i64) -> bool;
    fn has_destination(&self, kind: &str, id: &str) -> bool;
    fn has_webhook(&self, id: i64) -> bool;
}

/// Destination types an option may land on.
pub const DESTINATION_TYPES: [&str; 6] = ["extension", "ringgroup", "department", "number", "voicemail", "hangup"];
/// DTMF keys an option may be.
const KEYS: &str = "0123456789*#";

/// An IVR as stored and read back (Smartflo's `GET /v1/ivrs` shape).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ivr {
    pub name: String,
    pub description: String,
    pub recording: String,
    pub timeout: i64,
    pub invalid_retries: i64,
    pub invalid_retry_recording: String,
    pub invalid_destination_type: String,
    pub invalid_destination: String,
    pub timeout_retry_recording: String,
    pub timeout_recording: String,
    pub timeout_dest_type: String,
    pub timeout_destination: String,
    pub timeout_retries: i64,
    pub invalid_recording: i64,
    pub ivr_menu: Vec<MenuItem>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MenuItem {
    pub option: String,
    pub destination_type: String,
    pub destination_id: String,
    pub sms_template_id: String,
    pub webhook_id: String,
}

/// Validation errors in Smartflo's shape: every bad field with its sentences.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Errors(BTreeMap<String, Vec<String>>);

impl Errors {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_default().push(message.into());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `{"success":false,"message":<the first problem>,"errors":{field:[…]}}`.
    pub fn to_json(&self) -> Value {
        let first = self
            .0
            .values()
            .next()
            .and_then(|messages| messages.first())
            .cloned()
            .unwrap_or_default();
        serde_json::json!({"success": false, "message": first, "errors": self.0})
    }
}

/// Reads a create (or update) body. Field names and sentences follow
/// Smartflo's own (a Laravel application): "The name field is required."
pub fn parse(body: &Value, catalogue: &impl Catalogue) -> Result<Ivr, Errors> {
    let mut errors = Errors::default();
    let Some(object) = body.as_object() else {
        errors.add("body", "The request body must be a JSON object.");
        return Err(errors);
    };
    let mut fields = Reader {
        object,
        errors: &mut errors,
    };
    let name = fields.string("name", 100);
    let description = fields.string("description", 500);
    let recording = fields.reference("recording", "recording", catalogue);
    let timeout = fields.integer("timeout", 1, 300);
    let incorrect_count = fields.integer("incorrect_count", 0, 10);
    let timeout_tries = if object.contains_key("timeout_tries") {
        fields.integer("timeout_tries", 0, 10)
    } else {
        Some(1)
    };
    let invalid_recording = fields.reference("invalid_recording", "recording", catalogue);
    let timeout_recording = fields.reference("timeout_recording", "recording", catalogue);
    let timeout_retry_recording = fields.reference("timeout_retry_recording", "recording", catalogue);
    let recording_invalid = match object.contains_key("recording_invalid") {
        true => fields.reference("recording_invalid", "recording", catalogue),
        false => None,
    };
    let invalid_destination = fields.destination("invalid_destination", catalogue);
    let timeout_destination = fields.destination("timeout_destination", catalogue);
    let menu = fields.menu(catalogue);
    if !errors.is_empty() {
        return Err(errors);
    }
    let (invalid_type, invalid_id) = invalid_destination.expect("checked");
    let (timeout_type, timeout_id) = timeout_destination.expect("checked");
    let invalid_recording = invalid_recording.expect("checked");
    Ok(Ivr {
        name: name.expect("checked"),
        description: description.expect("checked"),
        recording: recording.expect("checked").to_string(),
        timeout: timeout.expect("checked"),
        invalid_retries: incorrect_count.expect("checked"),
        invalid_retry_recording: invalid_recording.to_string(),
        invalid_destination_type: invalid_type,
        invalid_destination: invalid_id,
        timeout_retry_recording: timeout_retry_recording.expect("checked").to_string(),
        timeout_recording: timeout_recording.expect("checked").to_string(),
        timeout_dest_type: timeout_type,
        timeout_destination: timeout_id,
        timeout_retries: timeout_tries.expect("checked"),
        invalid_recording: recording_invalid.unwrap_or(invalid_recording),
        ivr_menu: menu.expect("checked"),
    })
}

struct Reader<'a> {
    object: &'a Map<String, Value>,
    errors: &'a mut Errors,
}

impl<'a> Reader<'a> {
    fn present(&mut self, field: &str) -> Option<&'a Value> {
        let object = self.object;
        match object.get(field) {
            None | Some(Value::Null) => {
                self.errors.add(field, format!("The {field} field is required."));
                None
            }
            Some(Value::String(s)) if s.trim().is_empty() => {
                self.errors.add(field, format!("The {field} field is required."));
                None
            }
            Some(value) => Some(value),
        }
    }

    fn string(&mut self, field: &str, max: usize) -> Option<String> {
        let value = self.present(field)?;
        match value.as_str() {
            Some(s) if s.chars().any(char::is_control) => {
                self.errors
                    .add(field, format!("The {field} may not contain control characters."));
                None
            }
            Some(s) if s.chars().count() > max => {
                self.errors
                    .add(field, format!("The {field} may not be greater than {max} characters."));
                None
            }
            Some(s) => Some(s.to_owned()),
            None => {
                self.errors.add(field, format!("The {field} must be a string."));
                None
            }
        }
    }

    fn integer(&mut self, field: &str, min: i64, max: i64) -> Option<i64> {
        let value = self.present(field)?;
        match value.as_i64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            Some(_) => {
                self.errors
                    .add(field, format!("The {field} must be between {min} and {max}."));
                None
            }
            None => {
                self.errors.add(field, format!("The {field} must be an integer."));
                None
            }
        }
    }

    /// `recording|28935`: a declared recording.
    fn reference(&mut self, field: &str, kind: &str, catalogue: &impl Catalogue) -> Option<i64> {
        let raw = self.string(field, 64)?;
        match split_reference(&raw) {
            Some((prefix, id)) if prefix == kind => match id.parse::<i64>() {
                Ok(id) if catalogue.has_recording(id) => Some(id),
                _ => {
                    self.errors
                        .add(field, format!("The selected {field} is invalid: no {kind} {id}."));
                    None
                }
            },
            _ => {
                self.errors.add(field, format!("The {field} must look like {kind}|ID."));
                None
            }
        }
    }

    fn destination(&mut self, field: &str, catalogue: &impl Catalogue) -> Option<(String, String)> {
        let raw = self.string(field, 64)?;
        check_destination(&raw)
            .and_then(|(kind, id)| {
                if catalogue.has_destination(kind, id) {
                    Ok((kind.to_owned(), id.to_owned()))
                } else {
                    Err(format!("The selected {field} is invalid: no {kind} {id}."))
                }
            })
            .map_err(|message| {
                self.errors
                    .add(field, message.replace("The destination", &format!("The {field}")))
            })
            .ok()
    }

    fn strings(&mut self, field: &str, required: bool) -> Option<Vec<String>> {
        let value = match self.object.get(field) {
            None | Some(Value::Null) if !required => return Some(Vec::new()),
            _ => self.present(field)?,
        };
        let Some(items) = value.as_array() else {
            self.errors.add(field, format!("The {field} must be an array."));
            return None;
        };
        if items.len() > 12 {
            self.errors
                .add(field, format!("The {field} may not have more than 12 items."));
            return None;
        }
        let mut strings = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            match item.as_str() {
                Some(s) => strings.push(s.to_owned()),
                None => self.errors.add(
                    format!("{field}.{index}"),
                    format!("The {field}.{index} must be a string."),
                ),
            }
        }
        (strings.len() == items.len()).then_some(strings)
    }

    fn menu(&mut self, catalogue: &impl Catalogue) -> Option<Vec<MenuItem>> {
        let options = self.strings("option", true);
        let destinations = self.strings("destination", true);
        let templates = self.strings("sms_template", false);
        let webhooks = self.strings("webhook", false);
        let (options, destinations, templates, webhooks) = (options?, destinations?, templates?, webhooks?);
        if options.is_empty() {
            self.errors.add("option", "The option must have at least 1 items.");
        }
        if destinations.len() != options.len() {
            self.errors
                .add("destination", "The destination must have as many items as option.");
        }
        for (field, extra) in [("sms_template", &templates), ("webhook", &webhooks)] {
            if !extra.is_empty() && extra.len() != options.len() {
                self.errors
                    .add(field, format!("The {field} must have as many items as option."));
            }
        }
        let mut seen = String::new();
        let mut menu = Vec::new();
        for (index, option) in options.iter().enumerate() {
            let mut keys = option.chars();
            match (keys.next(), keys.next()) {
                (Some(key), None) if KEYS.contains(key) => {
                    if seen.contains(key) {
                        self.errors
                            .add(format!("option.{index}"), format!("The option {key} is repeated."));
                    }
                    seen.push(key);
                }
                _ => self.errors.add(
                    format!("option.{index}"),
                    format!("The option.{index} must be one DTMF key: 0-9, * or #."),
                ),
            }
            let Some(destination) = destinations.get(index) else {
                continue;
            };
            let (kind, id) = match check_destination(destination).and_then(|(kind, id)| {
                if catalogue.has_destination(kind, id) {
                    Ok((kind, id))
                } else {
                    Err(format!("The selected destination.{index} is invalid: no {kind} {id}."))
                }
            }) {
                Ok(found) => found,
                Err(message) => {
                    self.errors.add(
                        format!("destination.{index}"),
                        message.replace("The destination", &format!("The destination.{index}")),
                    );
                    continue;
                }
            };
            let template = templates
                .get(index)
                .map(|raw| optional_id(raw, "sms_template"))
                .unwrap_or(Some(0));
            let webhook = webhooks
                .get(index)
                .map(|raw| optional_id(raw, "webhook"))
                .unwrap_or(Some(0));
            let (Some(template), Some(webhook)) = (template, webhook) else {
                self.errors.add(
                    format!("webhook.{index}"),
                    "The sms_template and webhook items must look like sms_template|ID and webhook|ID, or be empty.",
                );
                continue;
            };
            if webhook != 0 && !catalogue.has_webhook(webhook) {
                self.errors.add(
                    format!("webhook.{index}"),
                    format!("The selected webhook.{index} is invalid: no webhook {webhook}."),
                );
                continue;
            }
            menu.push(MenuItem {
                option: option.clone(),
                destination_type: kind.to_owned(),
                destination_id: id.to_owned(),
                sms_template_id: template.to_string(),
                webhook_id: webhook.to_string(),
            });
        }
        Some(menu)
    }
}

fn split_reference(raw: &str) -> Option<(&str, &str)> {
    raw.split_once('|')
        .filter(|(kind, id)| !kind.is_empty() && !id.is_empty())
}

/// `extension|05047530000`: a known destination type and an id.
fn check_destination(raw: &str) -> Result<(&str, &str), String> {
    match split_reference(raw) {
        Some((kind, id)) if DESTINATION_TYPES.contains(&kind) => Ok((kind, id)),
        Some((kind, _)) => Err(format!(
            "The destination type '{kind}' is not one of {}.",
            DESTINATION_TYPES.join(", ")
        )),
        None => Err("The destination must look like type|ID, e.g. extension|05047530000.".to_owned()),
    }
}

/// `""`, `"0"` or `kind|ID`: the id (0 for none).
fn optional_id(raw: &str, kind: &str) -> Option<i64> {
    match raw {
        "" | "0" => Some(0),
        _ => split_reference(raw)
            .filter(|(prefix, _)| *prefix == kind)
            .and_then(|(_, id)| id.parse().ok())
            .filter(|id: &i64| *id > 0),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    struct Declared;

    impl Catalogue for Declared {
        fn has_recording(&self, id: i64) -> bool {
            [28935, 28955, 28977].contains(&id)
        }
        fn has_destination(&self, kind: &str, id: &str) -> bool {
            (kind, id) == ("extension", "05047530000") || kind == "hangup"
        }
        fn has_webhook(&self, id: i64) -> bool {
            id == 7
        }
    }

    fn valid() -> Value {
        json!({
            "name": "Election IVR", "description": "Election IVR Description", "recording": "recording|28935",
            "timeout": 30, "option": ["1", "2"], "destination": ["extension|05047530000", "hangup|0"],
            "incorrect_count": 2, "timeout_recording": "recording|28955", "invalid_recording": "recording|28955",
            "invalid_destination": "extension|05047530000", "timeout_retry_recording": "recording|28977",
            "timeout_destination": "extension|05047530000", "webhook": ["webhook|7", ""]
        })
    }

    #[test]
    fn a_valid_body_reads_back_in_smartflos_shape() {
        let ivr = parse(&valid(), &Declared).unwrap();
        assert_eq!(
            (
                ivr.recording.as_str(),
                ivr.invalid_retries,
                ivr.timeout_dest_type.as_str()
            ),
            ("28935", 2, "extension")
        );
        assert_eq!(
            ivr.ivr_menu[0],
            MenuItem {
                option: "1".into(),
                destination_type: "extension".into(),
                destination_id: "05047530000".into(),
                sms_template_id: "0".into(),
                webhook_id: "7".into()
            }
        );
    }

    #[test]
    fn every_rule_names_its_field() {
        type Change = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(Change, &str, &str)> = vec![
            (
                Box::new(|b| {
                    b.as_object_mut().unwrap().remove("name");
                }),
                "name",
                "The name field is required.",
            ),
            (
                Box::new(|b| b["timeout"] = json!("30")),
                "timeout",
                "The timeout must be an integer.",
            ),
            (
                Box::new(|b| b["timeout"] = json!(0)),
                "timeout",
                "The timeout must be between 1 and 300.",
            ),
            (
                Box::new(|b| b["recording"] = json!("28935")),
                "recording",
                "The recording must look like recording|ID.",
            ),
            (
                Box::new(|b| b["recording"] = json!("recording|1")),
                "recording",
                "The selected recording is invalid: no recording 1.",
            ),
            (
                Box::new(|b| b["option"] = json!("1")),
                "option",
                "The option must be an array.",
            ),
            (
                Box::new(|b| b["option"] = json!(["1", "1"])),
                "option.1",
                "The option 1 is repeated.",
            ),
            (
                Box::new(|b| b["option"] = json!(["12", "2"])),
                "option.0",
                "The option.0 must be one DTMF key: 0-9, * or #.",
            ),
            (
                Box::new(|b| b["destination"] = json!(["extension|05047530000"])),
                "destination",
                "The destination must have as many items as option.",
            ),
            (
                Box::new(|b| b["destination"] = json!(["queue|1", "hangup|0"])),
                "destination.0",
                "The destination.0 type 'queue' is not one of extension, ringgroup, department, number, voicemail, hangup.",
            ),
            (
                Box::new(|b| b["destination"] = json!(["extension|999", "hangup|0"])),
                "destination.0",
                "The selected destination.0 is invalid: no extension 999.",
            ),
            (
                Box::new(|b| b["webhook"] = json!(["webhook|8", ""])),
                "webhook.0",
                "The selected webhook.0 is invalid: no webhook 8.",
            ),
            (
                Box::new(|b| b["invalid_destination"] = json!(5)),
                "invalid_destination",
                "The invalid_destination must be a string.",
            ),
        ];
        for (change, field, message) in cases {
            let mut body = valid();
            change(&mut body);
            let errors = parse(&body, &Declared).unwrap_err().to_json();
            assert_eq!(errors["errors"][field], json!([message]), "{body}: {errors}");
            assert_eq!(errors["success"], false);
            assert_eq!(errors["message"], message);
        }
    }
}
