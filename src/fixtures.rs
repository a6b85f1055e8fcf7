//! The fixtures document (CONTRACT section 6): organizations, their keys and
//! stores, and opt-outs. A document is parsed and validated whole before any
//! of it is applied, and every refusal names the line it is about.

use std::collections::HashMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use crate::domain::{ApiKey, PhoneNumber, PhoneValidation};

/// Longest welcome message accepted: ten concatenated SMS segments.
const MAX_WELCOME_CHARS: usize = 1600;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct FixtureError {
    pub line: usize,
    pub reason: String,
}

/// A validated document, ready to apply.
#[derive(Debug, Default)]
pub struct Fixtures {
    pub organizations: Vec<OrganizationFixture>,
    pub opt_outs: Vec<OptOutFixture>,
}

#[derive(Debug)]
pub struct OrganizationFixture {
    pub name: String,
    pub api_keys: Vec<ApiKey>,
    pub welcome_message: Option<String>,
    pub stores: Vec<StoreFixture>,
}

#[derive(Debug)]
pub struct StoreFixture {
    pub name: String,
    pub phones: Vec<PhoneNumber>,
    pub forwarding: Option<PhoneNumber>,
    pub welcome_message: Option<String>,
}

#[derive(Debug)]
pub struct OptOutFixture {
    pub organization: String,
    pub phone: PhoneNumber,
    /// Kept to report an organization that exists neither here nor in the database.
    pub line: usize,
}

impl Fixtures {
    /// Parses and validates a TOML document. Stored numbers are checked at the
    /// configured level but never above `possible`: a test double must hold the
    /// fictional numbers (`+1415123…`, `+1555…`) integrators copy from docs.
    pub fn from_toml(source: &str, level: PhoneValidation) -> Result<Self, FixtureError> {
        let document: Document = toml::from_str(source).map_err(|e| FixtureError {
            line: e.span().map_or(1, |span| line_of(source, span.start)),
            reason: e.message().to_owned(),
        })?;
        Validator {
            source,
            level: level.min(PhoneValidation::Possible),
            ..Default::default()
        }
        .validate(document)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(default)]
    organizations: Vec<OrganizationEntry>,
    #[serde(default)]
    opt_outs: Vec<OptOutEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrganizationEntry {
    name: Spanned<String>,
    #[serde(default)]
    api_keys: Vec<Spanned<String>>,
    welcome_message: Option<Spanned<String>>,
    #[serde(default)]
    stores: Vec<StoreEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreEntry {
    name: Spanned<String>,
    #[serde(default)]
    phones: Vec<Spanned<String>>,
    forwarding: Option<Spanned<String>>,
    welcome_message: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OptOutEntry {
    organization: Spanned<String>,
    phone: Spanned<String>,
}

/// Checks entries one by one, remembering what it saw to refuse duplicates.
#[derive(Default)]
struct Validator<'a> {
    source: &'a str,
    level: PhoneValidation,
    organizations: HashMap<String, usize>,
    phones: HashMap<String, usize>,
    keys: HashMap<String, usize>,
}

impl Validator<'_> {
    fn validate(mut self, document: Document) -> Result<Fixtures, FixtureError> {
        let mut fixtures = Fixtures::default();
        for entry in document.organizations {
            fixtures.organizations.push(self.organization(entry)?);
        }
        for entry in document.opt_outs {
            fixtures.opt_outs.push(OptOutFixture {
                organization: self.name(&entry.organization, "organization")?,
                phone: self.phone(&entry.phone)?,
                line: self.line(entry.organization.span()),
            });
        }
        Ok(fixtures)
    }

    fn organization(&mut self, entry: OrganizationEntry) -> Result<OrganizationFixture, FixtureError> {
        let name = self.name(&entry.name, "organization name")?;
        self.unique(Seen::Organization, &name, entry.name.span())?;
        let api_keys = entry
            .api_keys
            .iter()
            .map(|key| {
                let parsed =
                    ApiKey::parse(key.get_ref()).map_err(|e| self.error(key.span(), format!("api key: {e}")))?;
                self.unique(Seen::Key, key.get_ref(), key.span())?;
                Ok(parsed)
            })
            .collect::<Result<_, FixtureError>>()?;
        let welcome_message = self.welcome(entry.welcome_message.as_ref())?;
        let stores = entry
            .stores
            .into_iter()
            .map(|store| self.store(store))
            .collect::<Result<_, _>>()?;
        Ok(OrganizationFixture {
            name,
            api_keys,
            welcome_message,
            stores,
        })
    }

    fn store(&mut self, entry: StoreEntry) -> Result<StoreFixture, FixtureError> {
        let name = self.name(&entry.name, "store name")?;
        let mut phones = Vec::with_capacity(entry.phones.len());
        for phone in &entry.phones {
            phones.push(self.phone(phone)?);
            self.unique(Seen::Phone, phone.get_ref(), phone.span())?;
        }
        let forwarding = entry.forwarding.as_ref().map(|phone| self.phone(phone)).transpose()?;
        let welcome_message = self.welcome(entry.welcome_message.as_ref())?;
        Ok(StoreFixture {
            name,
            phones,
            forwarding,
            welcome_message,
        })
    }

    fn name(&self, name: &Spanned<String>, what: &str) -> Result<String, FixtureError> {
        if name.get_ref().trim().is_empty() {
            return Err(self.error(name.span(), format!("{what} must not be empty")));
        }
        Ok(name.get_ref().clone())
    }

    fn phone(&self, phone: &Spanned<String>) -> Result<PhoneNumber, FixtureError> {
        PhoneNumber::parse(phone.get_ref(), self.level)
            .map_err(|e| self.error(phone.span(), format!("'{}': {e}", phone.get_ref())))
    }

    fn welcome(&self, message: Option<&Spanned<String>>) -> Result<Option<String>, FixtureError> {
        let Some(message) = message else {
            return Ok(None);
        };
        let length = message.get_ref().chars().count();
        if length == 0 || length > MAX_WELCOME_CHARS || message.get_ref().contains('\0') {
            return Err(self.error(
                message.span(),
                format!("welcome_message must be 1 to {MAX_WELCOME_CHARS} characters, without NUL"),
            ));
        }
        Ok(Some(message.get_ref().clone()))
    }

    fn unique(&mut self, kind: Seen, value: &str, span: Range<usize>) -> Result<(), FixtureError> {
        let line = self.line(span.clone());
        let seen = match kind {
            Seen::Organization => &mut self.organizations,
            Seen::Phone => &mut self.phones,
            Seen::Key => &mut self.keys,
        };
        match seen.insert(value.to_owned(), line) {
            None => Ok(()),
            Some(first) => Err(self.error(span, format!("{} already listed at line {first}", kind.describe(value)))),
        }
    }

    fn error(&self, span: Range<usize>, reason: String) -> FixtureError {
        FixtureError {
            line: self.line(span),
            reason,
        }
    }

    fn line(&self, span: Range<usize>) -> usize {
        line_of(self.source, span.start)
    }
}

#[derive(Clone, Copy)]
enum Seen {
    Organization,
    Phone,
    Key,
}

impl Seen {
    /// Keys are secrets: a duplicate is reported without its value.
    fn describe(self, value: &str) -> String {
        match self {
            Self::Organization => format!("organization '{value}' is"),
            Self::Phone => format!("'{value}' is a business number"),
            Self::Key => "this api key is".to_owned(),
        }
    }
}

fn line_of(source: &str, offset: usize) -> usize {
    source.as_bytes()[..offset.min(source.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../examples/fixtures.toml");

    #[test]
    fn the_example_file_is_valid() {
        let fixtures = Fixtures::from_toml(EXAMPLE, PhoneValidation::Valid).unwrap();
        assert!(fixtures.organizations.iter().any(|o| {
            o.stores
                .iter()
                .any(|s| s.phones.iter().any(|p| p.as_str() == "+14151234567"))
        }));
    }

    #[test]
    fn an_invalid_number_is_refused_with_its_line() {
        let source = "[[organizations]]\nname = \"A\"\n\n  [[organizations.stores]]\n  name = \"S\"\n  phones = [\"+14151234567\", \"555-0100\"]\n";
        let error = Fixtures::from_toml(source, PhoneValidation::Possible).unwrap_err();
        assert_eq!(error.line, 6);
        assert!(
            error.reason.starts_with("'555-0100': Not an E.164 phone number"),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_field_is_refused_with_its_line() {
        let error = Fixtures::from_toml(
            "[[organizations]]\nname = \"A\"\nwelcome = \"typo\"\n",
            PhoneValidation::Possible,
        )
        .unwrap_err();
        assert_eq!(error.line, 3);
        assert!(error.reason.contains("unknown field `welcome`"), "{error}");
    }

    #[test]
    fn a_number_in_two_stores_is_refused() {
        let source = "[[organizations]]\nname = \"A\"\n[[organizations.stores]]\nname = \"S1\"\nphones = [\"+14151234567\"]\n[[organizations.stores]]\nname = \"S2\"\nphones = [\"+14151234567\"]\n";
        let error = Fixtures::from_toml(source, PhoneValidation::Possible).unwrap_err();
        assert_eq!(
            error,
            FixtureError {
                line: 8,
                reason: "'+14151234567' is a business number already listed at line 5".to_owned()
            }
        );
    }

    #[test]
    fn a_duplicate_key_is_reported_without_its_value() {
        let source = "[[organizations]]\nname = \"A\"\napi_keys = [\"s3cret\"]\n[[organizations]]\nname = \"B\"\napi_keys = [\"s3cret\"]\n";
        let error = Fixtures::from_toml(source, PhoneValidation::Possible).unwrap_err();
        assert_eq!(error.line, 6);
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }
}
