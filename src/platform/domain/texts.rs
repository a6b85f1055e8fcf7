//! Free texts an operator configures: names and welcome templates.

use std::fmt;

/// Longest name accepted (organizations, stores).
const MAX_NAME_CHARS: usize = 200;
/// Longest welcome template: ten concatenated SMS segments.
const MAX_WELCOME_CHARS: usize = 1600;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("Must not be empty")]
    Empty,
    #[error("Must be at most {0} characters")]
    TooLong(usize),
    #[error("Must not contain control characters")]
    Control,
}

/// The name of an organization or a store: 1 to 200 characters, not blank,
/// no control characters (it is spoken and logged).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        if raw.trim().is_empty() {
            return Err(TextError::Empty);
        }
        if raw.chars().count() > MAX_NAME_CHARS {
            return Err(TextError::TooLong(MAX_NAME_CHARS));
        }
        if raw.chars().any(char::is_control) {
            return Err(TextError::Control);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A welcome SMS template (`{store}` is replaced by the store's name):
/// 1 to 1600 characters, no NUL (PostgreSQL text cannot hold one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WelcomeTemplate(String);

impl WelcomeTemplate {
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        if raw.is_empty() {
            return Err(TextError::Empty);
        }
        if raw.chars().count() > MAX_WELCOME_CHARS {
            return Err(TextError::TooLong(MAX_WELCOME_CHARS));
        }
        if raw.contains('\0') {
            return Err(TextError::Control);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_for_blankness_only_and_bounded() {
        assert_eq!(Name::parse("  Acme  ").unwrap().as_str(), "  Acme  ");
        assert_eq!(Name::parse(" \t"), Err(TextError::Empty));
        assert_eq!(Name::parse(&"é".repeat(201)), Err(TextError::TooLong(200)));
        assert_eq!(Name::parse("Acme\nSF"), Err(TextError::Control));
        assert!(Name::parse("Robert'); DROP TABLE stores;-- <b>").is_ok());
    }

    #[test]
    fn welcome_templates_allow_newlines_but_not_nul() {
        assert!(WelcomeTemplate::parse("Hi!\nReply STOP to opt out.").is_ok());
        assert_eq!(WelcomeTemplate::parse("a\0b"), Err(TextError::Control));
        assert_eq!(WelcomeTemplate::parse(""), Err(TextError::Empty));
        assert_eq!(WelcomeTemplate::parse(&"x".repeat(1601)), Err(TextError::TooLong(1600)));
    }
}
