//! A value that must never be shown: tokens, passwords, URLs that carry a
//! password. `Debug` prints `Secret(***)`, so a struct holding one can
//! derive `Debug` and be logged whole; the value is read with
//! [`Secret::expose`] only where it is used.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, PartialEq, Eq, sqlx::Type)]
#[sqlx(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself: for the one place that uses it, never for a log.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(value))
    }
}

/// Whether `a` and `b` are equal, in a time that depends on their lengths
/// only: how long a comparison takes says nothing about how much of a guess
/// was right.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::{Secret, constant_time_eq};

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(constant_time_eq(b"", b""));
        for (a, b) in [(&b"abc"[..], &b"abd"[..]), (b"abc", b"ab"), (b"", b"a")] {
            assert!(!constant_time_eq(a, b));
        }
    }

    #[test]
    fn debug_never_shows_the_value() {
        #[derive(Debug)]
        #[expect(dead_code, reason = "only printed")]
        struct Settings {
            token: Secret,
            maybe: Option<Secret>,
        }
        let settings = Settings {
            token: Secret::new("s3cret-token"),
            maybe: Some(Secret::new("postgres://u:pa55@h/db")),
        };
        let shown = format!("{settings:?} {settings:#?}");
        assert!(!shown.contains("s3cret") && !shown.contains("pa55"), "{shown}");
        assert!(shown.contains("Secret(***)"));
        assert_eq!(settings.token.expose(), "s3cret-token");
    }
}
