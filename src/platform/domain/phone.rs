//! E.164 phone numbers that cannot hold an invalid value.
//!
//! The shape is checked by hand first because `phonenumber::parse` is lenient
//! on purpose (it accepts `+1 650-253-0000`, letters and national formats);
//! libphonenumber's metadata then decides whether the digits can exist.

use std::fmt;
use std::str::FromStr;

use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

use phonenumber::metadata::DATABASE;

/// How strictly numbers are checked beyond the E.164 shape (`IVR_PHONE_VALIDATION`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum PhoneValidation {
    /// The E.164 shape alone.
    Format,
    /// A known country calling code and a length its numbers can have.
    #[default]
    Possible,
    /// A number in a range libphonenumber calls valid for its region.
    Valid,
}

impl PhoneValidation {
    /// The level numbers are stored at (fixtures, the admin API): this one,
    /// but never above `possible`, so that a test double can hold the
    /// fictional numbers (`+1415123…`, `+1555…`) integrators copy from docs.
    pub fn for_stored_numbers(self) -> Self {
        self.min(Self::Possible)
    }
}

impl fmt::Display for PhoneValidation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Format => "format",
            Self::Possible => "possible",
            Self::Valid => "valid",
        })
    }
}

/// Why a string is not an acceptable phone number; `Display` is the sentence
/// the API returns for the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PhoneNumberError {
    #[error("Missing parameter")]
    Missing,
    #[error("Not an E.164 phone number: '+' must be URL-encoded as %2B in a query string")]
    UnencodedPlus,
    #[error("Not an E.164 phone number: expected '+', a digit 1-9, then 1 to 14 more digits")]
    Shape,
    #[error("Not a possible phone number: unknown country calling code")]
    UnknownCountryCode,
    #[error("Not a possible phone number: too short for country code +{0}")]
    TooShort(u16),
    #[error("Not a possible phone number: too long for country code +{0}")]
    TooLong(u16),
    #[error("Not a possible phone number: no number of that length exists for country code +{0}")]
    InvalidLength(u16),
    #[error("Not a valid phone number: not in any assigned range for its country")]
    NotValid,
}

/// A phone number in E.164 form (`+` then 2 to 15 digits), checked at a
/// [`PhoneValidation`] level when it was parsed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Parses `raw` exactly as received: no trimming, no reformatting.
    pub fn parse(raw: &str, level: PhoneValidation) -> Result<Self, PhoneNumberError> {
        if raw.is_empty() {
            return Err(PhoneNumberError::Missing);
        }
        check_shape(raw)?;
        match level {
            PhoneValidation::Format => {}
            PhoneValidation::Possible => check_possible(raw)?,
            PhoneValidation::Valid => {
                check_possible(raw)?;
                check_valid(raw)?;
            }
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for PhoneNumber {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parsing at the default level, for places (flags, tests) that want `str::parse`.
impl FromStr for PhoneNumber {
    type Err = PhoneNumberError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s, PhoneValidation::default())
    }
}

fn check_shape(raw: &str) -> Result<(), PhoneNumberError> {
    let bytes = raw.as_bytes();
    // A query string decodes an unencoded `+` to a space: say so rather than
    // leave the integrator puzzling over a number that looks right.
    if bytes[0] == b' ' && bytes.len() > 1 && bytes[1..].iter().all(u8::is_ascii_digit) {
        return Err(PhoneNumberError::UnencodedPlus);
    }
    let digits = &bytes[1..];
    let shape_ok = bytes[0] == b'+'
        && (2..=15).contains(&digits.len())
        && digits[0] != b'0'
        && digits.iter().all(u8::is_ascii_digit);
    if shape_ok { Ok(()) } else { Err(PhoneNumberError::Shape) }
}

/// libphonenumber's "is possible": the calling code exists and the national
/// number has a length that country's numbers can have.
fn check_possible(e164: &str) -> Result<(), PhoneNumberError> {
    let digits = &e164[1..];
    let (code, national) = split_country_code(digits).ok_or(PhoneNumberError::UnknownCountryCode)?;
    let lengths = POSSIBLE_LENGTHS
        .get(&code)
        .ok_or(PhoneNumberError::UnknownCountryCode)?;
    let length = national.len() as u16;
    if lengths.national.contains(&length) || lengths.local_only.contains(&length) {
        return Ok(());
    }
    match (lengths.national.first(), lengths.national.last()) {
        (Some(&min), _) if length < min => Err(PhoneNumberError::TooShort(code)),
        (_, Some(&max)) if length > max => Err(PhoneNumberError::TooLong(code)),
        _ => Err(PhoneNumberError::InvalidLength(code)),
    }
}

/// National-number lengths a calling code's numbers can have.
struct PossibleLengths {
    national: BTreeSet<u16>,
    local_only: BTreeSet<u16>,
}

/// The crate ships each number type's lengths but leaves the general
/// descriptor's empty; libphonenumber derives those as the union of the
/// types, which is what this table holds, for the calling code's main region.
static POSSIBLE_LENGTHS: LazyLock<HashMap<u16, PossibleLengths>> = LazyLock::new(|| {
    let mut table = HashMap::new();
    // By calling code, not by region: the crate keys its regions by id, and
    // every non-geographic code (+800, +808, +870…) has the id `001`, so
    // iterating regions sees only one of them. `by_code` lists the main
    // region of a code first.
    for code in 1..1000u16 {
        let Some(meta) = DATABASE.by_code(&code).and_then(|regions| regions.first().copied()) else {
            continue;
        };
        let descriptors = meta.descriptors();
        let types = [
            Some(descriptors.general()),
            descriptors.fixed_line(),
            descriptors.mobile(),
            descriptors.toll_free(),
            descriptors.premium_rate(),
            descriptors.shared_cost(),
            descriptors.personal_number(),
            descriptors.voip(),
            descriptors.pager(),
            descriptors.uan(),
            descriptors.voicemail(),
        ];
        let mut lengths = PossibleLengths {
            national: BTreeSet::new(),
            local_only: BTreeSet::new(),
        };
        for descriptor in types.into_iter().flatten() {
            lengths.national.extend(descriptor.possible_length());
            lengths.local_only.extend(descriptor.possible_local_length());
        }
        table.insert(code, lengths);
    }
    table
});

fn check_valid(e164: &str) -> Result<(), PhoneNumberError> {
    let parsed = phonenumber::parse(None, e164).map_err(|_| PhoneNumberError::NotValid)?;
    // The parser may rewrite what it was given (strip a national prefix, say);
    // a number is valid only if the digits we hold are the ones it judged.
    let same_digits = parsed.format().mode(phonenumber::Mode::E164).to_string() == e164;
    if same_digits && phonenumber::is_valid(&parsed) {
        Ok(())
    } else {
        Err(PhoneNumberError::NotValid)
    }
}

/// Country calling codes are prefix-free, so at most one of the first one,
/// two or three digits is a known code.
fn split_country_code(digits: &str) -> Option<(u16, &str)> {
    (1..=3.min(digits.len() - 1)).find_map(|len| {
        let code: u16 = digits[..len].parse().ok()?;
        DATABASE.region(&code).map(|_| (code, &digits[len..]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use PhoneValidation::*;

    #[test]
    fn public_page_examples_are_possible_but_not_valid() {
        for number in ["+14151234560", "+14151234567", "+15555550123"] {
            assert!(PhoneNumber::parse(number, Possible).is_ok(), "{number}");
            assert_eq!(
                PhoneNumber::parse(number, Valid),
                Err(PhoneNumberError::NotValid),
                "{number}"
            );
        }
    }

    #[test]
    fn non_geographic_calling_codes_are_known() {
        for number in [
            "+80012345678",
            "+80812345678",
            "+870773111632",
            "+88213222222",
            "+979123456789",
        ] {
            assert!(
                PhoneNumber::parse(number, PhoneValidation::Possible).is_ok(),
                "{number}"
            );
        }
    }

    /// `tests/data/possible_numbers.tsv` is libphonenumber's own verdict
    /// (scripts/phone-oracle) for every national length under every code.
    #[test]
    fn possible_matches_libphonenumber_for_every_calling_code() {
        let oracle = include_str!("../../../tests/data/possible_numbers.tsv");
        let mut disagreements = Vec::new();
        for line in oracle.lines().filter(|line| !line.starts_with('#')) {
            let (number, verdict) = line.split_once('\t').unwrap();
            if verdict == "rewritten" {
                // libphonenumber strips a trunk prefix after the code
                // ("+44 0…"); the gateway keeps E.164 as written and judges
                // the digits it was sent.
                continue;
            }
            let ours = PhoneNumber::parse(number, PhoneValidation::Possible).is_ok();
            if ours != (verdict == "possible") {
                disagreements.push(format!("{number}: libphonenumber {verdict}, ours {ours}"));
            }
        }
        assert!(
            disagreements.is_empty(),
            "{} disagreements:\n{}",
            disagreements.len(),
            disagreements.join("\n")
        );
    }

    #[test]
    fn real_ranges_are_valid() {
        for number in ["+16502530000", "+442079460000", "+33142685300", "+4930123456"] {
            assert_eq!(
                PhoneNumber::parse(number, Valid).map(|n| n.to_string()),
                Ok(number.to_owned())
            );
        }
    }

    #[test]
    fn the_shape_is_strict_where_the_crate_is_lenient() {
        for raw in [
            "+1 650-253-0000",
            "+1650CALLNOW",
            "0014151234567",
            "4151234567",
            "+0123456",
            "+1",
            "+1234567890123456",
            "++14151234567",
            "+14151234567 ",
            "+\u{0661}\u{0662}\u{0663}",
        ] {
            assert_eq!(PhoneNumber::parse(raw, Format), Err(PhoneNumberError::Shape), "{raw:?}");
        }
    }

    #[test]
    fn a_space_then_digits_is_reported_as_an_unencoded_plus() {
        assert_eq!(
            PhoneNumber::parse(" 14151234567", Format),
            Err(PhoneNumberError::UnencodedPlus)
        );
        assert_eq!(PhoneNumber::parse(" ", Format), Err(PhoneNumberError::Shape));
    }

    #[test]
    fn a_well_shaped_number_can_still_be_impossible() {
        // Found by the property test: `+1` then a single digit.
        assert!(PhoneNumber::parse("+10", Format).is_ok());
        assert_eq!(PhoneNumber::parse("+10", Possible), Err(PhoneNumberError::TooShort(1)));
    }

    #[test]
    fn possible_reports_why_a_number_cannot_exist() {
        assert_eq!(
            PhoneNumber::parse("+999123456", Possible),
            Err(PhoneNumberError::UnknownCountryCode)
        );
        assert_eq!(
            PhoneNumber::parse("+1415123", Possible),
            Err(PhoneNumberError::TooShort(1))
        );
        assert_eq!(
            PhoneNumber::parse("+141512345678", Possible),
            Err(PhoneNumberError::TooLong(1))
        );
        assert!(PhoneNumber::parse("+999123456", Format).is_ok());
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn levels() -> impl Strategy<Value = PhoneValidation> {
            prop_oneof![Just(Format), Just(Possible), Just(Valid)]
        }

        fn has_e164_shape(s: &str) -> bool {
            let digits = s.strip_prefix('+').unwrap_or_default();
            (2..=15).contains(&digits.len()) && !digits.starts_with('0') && digits.bytes().all(|b| b.is_ascii_digit())
        }

        proptest! {
            #[test]
            fn every_e164_shape_parses_at_format_level_unchanged(raw in "\\+[1-9][0-9]{1,14}") {
                let number = PhoneNumber::parse(&raw, Format).unwrap();
                prop_assert_eq!(number.as_str(), raw.as_str());
            }

            #[test]
            fn nothing_without_the_e164_shape_is_ever_accepted(raw in any::<String>(), level in levels()) {
                if let Ok(number) = PhoneNumber::parse(&raw, level) {
                    prop_assert!(has_e164_shape(number.as_str()), "{:?}", raw);
                }
            }

            #[test]
            fn unicode_lookalikes_never_pass(raw in "[+\u{ff0b}][\\p{Nd}\u{ff10}-\u{ff19} ]{2,15}", level in levels()) {
                // Accepted implies well-shaped at every level; at `format` the shape is all there is.
                let accepted = PhoneNumber::parse(&raw, level).is_ok();
                prop_assert!(!accepted || has_e164_shape(&raw), "{:?}", raw);
                if level == Format {
                    prop_assert_eq!(accepted, has_e164_shape(&raw));
                }
            }

            #[test]
            fn stricter_levels_accept_a_subset(raw in "\\+[1-9][0-9]{1,14}") {
                let valid = PhoneNumber::parse(&raw, Valid).is_ok();
                let possible = PhoneNumber::parse(&raw, Possible).is_ok();
                prop_assert!(!valid || possible, "valid but not possible: {}", raw);
            }

            #[test]
            fn one_foreign_character_anywhere_is_rejected(
                raw in "\\+[1-9][0-9]{1,13}",
                position in any::<prop::sample::Index>(),
                intruder in "[^0-9]",
            ) {
                let at = 1 + position.index(raw.len() - 1);
                let spoiled = format!("{}{}{}", &raw[..at], intruder, &raw[at..]);
                prop_assert!(PhoneNumber::parse(&spoiled, Format).is_err(), "{:?}", spoiled);
            }
        }
    }
}
