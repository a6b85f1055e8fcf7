//! The optional campaign or consent tag (`context`, e.g. `OPT_IN`).

use std::fmt;

const MAX_LEN: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Not a valid context: at most 64 characters of A-Z a-z 0-9 _ - . :")]
pub struct CallContextError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallContext(String);

impl CallContext {
    /// Parses a non-empty tag; callers treat an empty value as "no context".
    pub fn parse(raw: &str) -> Result<Self, CallContextError> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':');
        if raw.is_empty() || raw.len() > MAX_LEN || !raw.bytes().all(allowed) {
            return Err(CallContextError);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for CallContext {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CallContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_alphabet_up_to_64_characters() {
        assert!(CallContext::parse("OPT_IN").is_ok());
        assert!(CallContext::parse("campaign-2026.q4:fr").is_ok());
        assert!(CallContext::parse(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn rejects_anything_else() {
        for raw in [
            "",
            "opt in",
            "<OPT_IN>",
            "x'; DROP TABLE calls;--",
            "é",
            &"a".repeat(65),
        ] {
            assert_eq!(CallContext::parse(raw), Err(CallContextError), "{raw:?}");
        }
    }
}
