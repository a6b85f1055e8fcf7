//! The 400/413/415 body: one human sentence per bad field, in a stable order.

use serde::ser::{Serialize, SerializeMap, Serializer};

/// Field names mapped to sentences, serialised as one JSON object in the
/// order the fields were checked (so bodies are byte-stable for tests).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<(&'static str, String)>);

impl FieldErrors {
    pub fn single(field: &'static str, message: impl Into<String>) -> Self {
        Self(vec![(field, message.into())])
    }

    pub fn push(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push((field, message.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, message)| message.as_str())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a map of strings always serialises")
    }
}

impl Serialize for FieldErrors {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (field, message) in &self.0 {
            map.serialize_entry(field, message)?;
        }
        map.end()
    }
}
