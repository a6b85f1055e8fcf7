//! The fixtures document (docs/ivr-hook.md §6): organizations, their keys and
//! stores, and opt-outs, as TOML or JSON. A document is parsed and validated
//! whole before any of it is applied, and every refusal says where: the line
//! in TOML, the path (`organizations[0].stores[1].phones[0]`) in JSON.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use toml::Spanned;

use crate::domain::{ApiKey, ApiKeyError, Name, PhoneNumber, PhoneValidation, WelcomeTemplate};
use crate::secret::Secret;

/// Where in a document a refusal points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Line(usize),
    Path(String),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line(line) => write!(f, "line {line}"),
            Self::Path(path) => f.write_str(path),
        }
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {reason}")]
pub struct FixtureError {
    pub location: Location,
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
    /// Set: calls must carry a valid X-Twilio-Signature made with it.
    pub twilio_auth_token: Option<Secret>,
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
    pub location: Location,
}

impl Fixtures {
    /// Parses and validates a TOML document; numbers are checked at
    /// [`PhoneValidation::for_stored_numbers`].
    pub fn from_toml(source: &str, level: PhoneValidation) -> Result<Self, FixtureError> {
        let document: Document<Spanned<String>> = toml::from_str(source).map_err(|e| FixtureError {
            location: Location::Line(e.span().map_or(1, |span| line_of(source, span.start))),
            reason: e.message().to_owned(),
        })?;
        Validator::new(source, level).validate(document)
    }

    /// Parses and validates the same document as JSON (`POST /admin/fixtures`).
    pub fn from_json(source: &str, level: PhoneValidation) -> Result<Self, FixtureError> {
        // serde would read a struct from a JSON array too; a document is an object.
        let trimmed = source.trim_start();
        if !trimmed.starts_with('{') {
            let line = source[..source.len() - trimmed.len()].matches('\n').count() + 1;
            return Err(FixtureError {
                location: Location::Line(line),
                reason: "expected a JSON object".to_owned(),
            });
        }
        let document: Document<String> = serde_json::from_str(source).map_err(|e| FixtureError {
            location: Location::Line(e.line().max(1)),
            reason: json_reason(&e),
        })?;
        Validator::new(source, level).validate(document)
    }
}

/// serde_json appends " at line L column C" to its messages; the location says that already.
fn json_reason(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    }
}

/// A text value of the raw document: spanned in TOML, plain in JSON.
trait RawText: DeserializeOwned {
    fn text(&self) -> &str;
    fn span(&self) -> Option<Range<usize>>;
}

impl RawText for Spanned<String> {
    fn text(&self) -> &str {
        self.get_ref()
    }

    fn span(&self) -> Option<Range<usize>> {
        Some(Spanned::span(self))
    }
}

impl RawText for String {
    fn text(&self) -> &str {
        self
    }

    fn span(&self) -> Option<Range<usize>> {
        None
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "T: RawText")]
struct Document<T> {
    #[serde(default)]
    organizations: Vec<OrganizationEntry<T>>,
    #[serde(default)]
    opt_outs: Vec<OptOutEntry<T>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "T: RawText")]
struct OrganizationEntry<T> {
    name: T,
    #[serde(default)]
    api_keys: Vec<T>,
    welcome_message: Option<T>,
    twilio_auth_token: Option<T>,
    #[serde(default)]
    stores: Vec<StoreEntry<T>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "T: RawText")]
struct StoreEntry<T> {
    name: T,
    #[serde(default)]
    phones: Vec<T>,
    forwarding: Option<T>,
    welcome_message: Option<T>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "T: RawText")]
struct OptOutEntry<T> {
    organization: T,
    phone: T,
}

/// Checks entries one by one, remembering what it saw to refuse duplicates.
struct Validator<'a> {
    source: &'a str,
    level: PhoneValidation,
    organizations: HashMap<String, Location>,
    phones: HashMap<String, Location>,
    keys: HashMap<String, Location>,
}

impl<'a> Validator<'a> {
    fn new(source: &'a str, level: PhoneValidation) -> Self {
        Self {
            source,
            level: level.for_stored_numbers(),
            organizations: HashMap::new(),
            phones: HashMap::new(),
            keys: HashMap::new(),
        }
    }

    fn validate<T: RawText>(mut self, document: Document<T>) -> Result<Fixtures, FixtureError> {
        let mut fixtures = Fixtures::default();
        for (index, entry) in document.organizations.into_iter().enumerate() {
            fixtures
                .organizations
                .push(self.organization(entry, &format!("organizations[{index}]"))?);
        }
        for (index, entry) in document.opt_outs.into_iter().enumerate() {
            let path = format!("opt_outs[{index}]");
            fixtures.opt_outs.push(OptOutFixture {
                organization: self.name(&entry.organization, &format!("{path}.organization"), "organization")?,
                phone: self.phone(&entry.phone, &format!("{path}.phone"))?,
                location: self.locate(&entry.organization, &format!("{path}.organization")),
            });
        }
        Ok(fixtures)
    }

    fn organization<T: RawText>(
        &mut self,
        entry: OrganizationEntry<T>,
        path: &str,
    ) -> Result<OrganizationFixture, FixtureError> {
        let name = self.name(&entry.name, &format!("{path}.name"), "organization name")?;
        self.unique(Seen::Organization, &entry.name, &format!("{path}.name"))?;
        let mut api_keys = Vec::with_capacity(entry.api_keys.len());
        for (index, key) in entry.api_keys.iter().enumerate() {
            let key_path = format!("{path}.api_keys[{index}]");
            api_keys.push(ApiKey::parse(key.text()).map_err(|e| self.error(key, &key_path, format!("api key: {e}")))?);
            self.unique(Seen::Key, key, &key_path)?;
        }
        let welcome_message = self.welcome(entry.welcome_message.as_ref(), &format!("{path}.welcome_message"))?;
        let twilio_auth_token = entry
            .twilio_auth_token
            .as_ref()
            .map(|token| {
                parse_twilio_token(token.text()).map_err(|e| {
                    self.error(
                        token,
                        &format!("{path}.twilio_auth_token"),
                        format!("twilio_auth_token: {e}"),
                    )
                })
            })
            .transpose()?;
        let mut stores = Vec::with_capacity(entry.stores.len());
        for (index, store) in entry.stores.into_iter().enumerate() {
            stores.push(self.store(store, &format!("{path}.stores[{index}]"))?);
        }
        Ok(OrganizationFixture {
            name,
            api_keys,
            welcome_message,
            twilio_auth_token,
            stores,
        })
    }

    fn store<T: RawText>(&mut self, entry: StoreEntry<T>, path: &str) -> Result<StoreFixture, FixtureError> {
        let name = self.name(&entry.name, &format!("{path}.name"), "store name")?;
        let mut phones = Vec::with_capacity(entry.phones.len());
        for (index, phone) in entry.phones.iter().enumerate() {
            let phone_path = format!("{path}.phones[{index}]");
            phones.push(self.phone(phone, &phone_path)?);
            self.unique(Seen::Phone, phone, &phone_path)?;
        }
        let forwarding = entry
            .forwarding
            .as_ref()
            .map(|phone| self.phone(phone, &format!("{path}.forwarding")))
            .transpose()?;
        let welcome_message = self.welcome(entry.welcome_message.as_ref(), &format!("{path}.welcome_message"))?;
        Ok(StoreFixture {
            name,
            phones,
            forwarding,
            welcome_message,
        })
    }

    fn name<T: RawText>(&self, name: &T, path: &str, what: &str) -> Result<String, FixtureError> {
        Name::parse(name.text())
            .map(|name| name.as_str().to_owned())
            .map_err(|e| self.error(name, path, format!("{what}: {e}")))
    }

    fn phone<T: RawText>(&self, phone: &T, path: &str) -> Result<PhoneNumber, FixtureError> {
        PhoneNumber::parse(phone.text(), self.level)
            .map_err(|e| self.error(phone, path, format!("'{}': {e}", phone.text())))
    }

    fn welcome<T: RawText>(&self, message: Option<&T>, path: &str) -> Result<Option<String>, FixtureError> {
        let Some(message) = message else { return Ok(None) };
        WelcomeTemplate::parse(message.text())
            .map(|template| Some(template.as_str().to_owned()))
            .map_err(|e| self.error(message, path, format!("welcome_message: {e}")))
    }

    fn unique<T: RawText>(&mut self, kind: Seen, value: &T, path: &str) -> Result<(), FixtureError> {
        let location = self.locate(value, path);
        let seen = match kind {
            Seen::Organization => &mut self.organizations,
            Seen::Phone => &mut self.phones,
            Seen::Key => &mut self.keys,
        };
        match seen.insert(value.text().to_owned(), location) {
            None => Ok(()),
            Some(first) => Err(self.error(
                value,
                path,
                format!("{} already listed at {first}", kind.describe(value.text())),
            )),
        }
    }

    fn error<T: RawText>(&self, value: &T, path: &str, reason: String) -> FixtureError {
        FixtureError {
            location: self.locate(value, path),
            reason,
        }
    }

    fn locate<T: RawText>(&self, value: &T, path: &str) -> Location {
        match value.span() {
            Some(span) => Location::Line(line_of(self.source, span.start)),
            None => Location::Path(path.to_owned()),
        }
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

/// A Twilio auth token: 1 to 128 printable ASCII characters (Twilio's are 32
/// hex digits). The same rule as API keys.
pub fn parse_twilio_token(raw: &str) -> Result<Secret, ApiKeyError> {
    ApiKey::parse(raw).map(|token| Secret::new(token.expose()))
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
        assert_eq!(error.location, Location::Line(6));
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
        assert_eq!(error.location, Location::Line(3));
        assert!(error.reason.contains("unknown field `welcome`"), "{error}");
    }

    #[test]
    fn a_number_in_two_stores_is_refused() {
        let source = "[[organizations]]\nname = \"A\"\n[[organizations.stores]]\nname = \"S1\"\nphones = [\"+14151234567\"]\n[[organizations.stores]]\nname = \"S2\"\nphones = [\"+14151234567\"]\n";
        let error = Fixtures::from_toml(source, PhoneValidation::Possible).unwrap_err();
        assert_eq!(
            error,
            FixtureError {
                location: Location::Line(8),
                reason: "'+14151234567' is a business number already listed at line 5".to_owned()
            }
        );
    }

    #[test]
    fn a_duplicate_key_is_reported_without_its_value() {
        let source = "[[organizations]]\nname = \"A\"\napi_keys = [\"s3cret\"]\n[[organizations]]\nname = \"B\"\napi_keys = [\"s3cret\"]\n";
        let error = Fixtures::from_toml(source, PhoneValidation::Possible).unwrap_err();
        assert_eq!(error.location, Location::Line(6));
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }

    #[test]
    fn json_documents_are_checked_the_same_way_and_point_at_paths() {
        let json = r#"{"organizations":[{"name":"A","stores":[{"name":"S","phones":["+14151234567","555-0100"]}]}]}"#;
        let error = Fixtures::from_json(json, PhoneValidation::Possible).unwrap_err();
        assert_eq!(
            error.location,
            Location::Path("organizations[0].stores[0].phones[1]".into())
        );
        assert!(
            error
                .to_string()
                .starts_with("organizations[0].stores[0].phones[1]: '555-0100': Not an E.164"),
            "{error}"
        );

        let error = Fixtures::from_json("{\n\"organisations\": []}", PhoneValidation::Possible).unwrap_err();
        assert_eq!(error.location, Location::Line(2));
        assert!(error.reason.starts_with("unknown field `organisations`"), "{error}");

        let json = r#"{"organizations":[{"name":"A","api_keys":["k"],"stores":[{"name":"S","phones":["+14151234567"],"forwarding":"+14155550100"}]}],"opt_outs":[{"organization":"A","phone":"+14155550199"}]}"#;
        let fixtures = Fixtures::from_json(json, PhoneValidation::Possible).unwrap();
        assert_eq!(
            fixtures.organizations[0].stores[0]
                .forwarding
                .as_ref()
                .map(|n| n.as_str()),
            Some("+14155550100")
        );
        assert_eq!(
            fixtures.opt_outs[0].location,
            Location::Path("opt_outs[0].organization".into())
        );
    }

    #[test]
    fn an_organization_may_require_twilio_signatures() {
        let source = "[[organizations]]\nname = \"A\"\ntwilio_auth_token = \"0123456789abcdef0123456789abcdef\"\n";
        let fixtures = Fixtures::from_toml(source, PhoneValidation::Possible).unwrap();
        assert_eq!(
            fixtures.organizations[0].twilio_auth_token.as_ref().map(Secret::expose),
            Some("0123456789abcdef0123456789abcdef")
        );
        let error = Fixtures::from_toml(
            "[[organizations]]\nname = \"A\"\n\ntwilio_auth_token = \"\"\n",
            PhoneValidation::Possible,
        )
        .unwrap_err();
        assert_eq!(error.to_string(), "line 4: twilio_auth_token: Missing parameter");
    }
}
