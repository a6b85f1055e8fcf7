//! Everything a caller's bytes go through before the database: the query
//! string, the body (JSON or form, chosen by the first byte as the
//! Content-Type), validation at every level, and the fixtures parsers.
//! Nothing may panic, and whatever validation accepts must be well-formed.
#![no_main]

use ivr_gateway::platform::domain::{PhoneNumber, PhoneValidation};
use ivr_gateway::surfaces::instaply_ivr::domain::IvrRequest;
use ivr_gateway::control::fixtures::Fixtures;
use ivr_gateway::surfaces::instaply_ivr::routes::decode;
use libfuzzer_sys::fuzz_target;

const CONTENT_TYPES: [Option<&[u8]>; 5] = [
    None,
    Some(b"application/json"),
    Some(b"application/x-www-form-urlencoded"),
    Some(b"application/vnd.api+json; charset=utf-8"),
    Some(b"text/plain"),
];
const LEVELS: [PhoneValidation; 3] = [PhoneValidation::Format, PhoneValidation::Possible, PhoneValidation::Valid];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    let split = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let (query, body) = (String::from_utf8_lossy(&rest[..split]), &rest[split.saturating_add(1).min(rest.len())..]);

    let from_query = decode::from_query(&query);
    let raw = match decode::decode_body(content_type, body) {
        Ok(from_body) => from_body.or(from_query),
        Err(_) => from_query,
    };
    for level in LEVELS {
        if let Ok(request) = IvrRequest::parse(&raw, level) {
            for number in [request.from.as_str(), request.to.as_str()] {
                let digits = number.strip_prefix('+').expect("accepted numbers start with +");
                assert!((2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()));
            }
        }
    }

    let text = String::from_utf8_lossy(body);
    for level in LEVELS {
        let _ = PhoneNumber::parse(&text, level);
    }
    let _ = Fixtures::from_toml(&text, PhoneValidation::Possible);
    let _ = Fixtures::from_json(&text, PhoneValidation::Possible);
});
