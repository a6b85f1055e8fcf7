//! The organization's API token, as received: never logged, stored only hashed.

use std::fmt;

use sha2::{Digest, Sha256};

const MAX_LEN: usize = 128;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyError {
    #[error("Missing parameter")]
    Missing,
    #[error("Not an API key: expected 1 to 128 printable ASCII characters")]
    Malformed,
}

/// An API key of 1 to 128 printable ASCII characters. `Debug` hides it so
/// that no log line or panic message can carry it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn parse(raw: &str) -> Result<Self, ApiKeyError> {
        if raw.is_empty() {
            return Err(ApiKeyError::Missing);
        }
        let printable = raw.bytes().all(|b| (0x20..=0x7e).contains(&b));
        if raw.len() > MAX_LEN || !printable {
            return Err(ApiKeyError::Malformed);
        }
        Ok(Self(raw.to_owned()))
    }

    /// A new random key: 128 bits as 32 hex digits, the shape of Instaply's keys.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }

    /// The key itself, for the one moment it is shown to whoever created it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The leading characters shown when keys are listed: at most four, and
    /// at most a quarter of the key, so a short key is not given away.
    pub fn display_prefix(&self) -> Option<String> {
        let shown = (self.0.len() / 4).min(4);
        (shown > 0).then(|| self.0[..shown].to_owned())
    }

    /// The digest stored in place of the key. Keys are random tokens, not
    /// passwords, so a fast unsalted hash is enough and keeps lookup an index hit.
    pub fn hash(&self) -> KeyHash {
        KeyHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// SHA-256 of an API key: what the database holds and is searched by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyHash([u8; 32]);

impl AsRef<[u8]> for KeyHash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_public_example_key_and_hides_it_from_debug() {
        let key = ApiKey::parse("a73d5034210f702515128ac61193cd21").unwrap();
        assert_eq!(format!("{key:?}"), "ApiKey(***)");
    }

    #[test]
    fn rejects_empty_long_and_non_printable_keys() {
        assert_eq!(ApiKey::parse(""), Err(ApiKeyError::Missing));
        assert_eq!(ApiKey::parse(&"k".repeat(129)), Err(ApiKeyError::Malformed));
        assert!(ApiKey::parse(&"k".repeat(128)).is_ok());
        for raw in ["ke\0y", "ke\ny", "clé", "\u{7f}"] {
            assert_eq!(ApiKey::parse(raw), Err(ApiKeyError::Malformed), "{raw:?}");
        }
    }

    #[test]
    fn the_display_prefix_never_shows_more_than_a_quarter() {
        assert_eq!(
            ApiKey::parse("a73d5034210f702515128ac61193cd21")
                .unwrap()
                .display_prefix()
                .as_deref(),
            Some("a73d")
        );
        assert_eq!(
            ApiKey::parse("abcdefgh").unwrap().display_prefix().as_deref(),
            Some("ab")
        );
        assert_eq!(ApiKey::parse("abc").unwrap().display_prefix(), None);
    }

    #[test]
    fn hash_is_sha256_of_the_key() {
        let hash = ApiKey::parse("abc").unwrap().hash();
        let hex: String = hash.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
