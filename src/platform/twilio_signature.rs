//! Twilio's request signature (`X-Twilio-Signature`), verified the way
//! Twilio's own libraries do: HMAC-SHA1 with the account's auth token over
//! the full URL followed by the POST parameters sorted by name (name then
//! value, concatenated), base64. For a JSON body the URL carries
//! `bodySHA256=<hex SHA-256 of the body>`, the signature covers the URL
//! alone, and the body must match that hash. The URL is tried as received
//! and with its default port added or removed, as Twilio's libraries do.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// What a request offers for verification, captured before it is decoded.
#[derive(Clone, Debug, Default)]
pub struct SignedRequest {
    /// Scheme, host, port as requested, path and query: what Twilio signed.
    pub url: String,
    /// Form-encoded body parameters (empty for GET and JSON).
    pub params: Vec<(String, String)>,
    /// The raw body, for the `bodySHA256` check.
    pub body: Vec<u8>,
    /// The `X-Twilio-Signature` header, if any.
    pub signature: Option<String>,
}

impl SignedRequest {
    /// True when the signature was made with `auth_token` over this request.
    pub fn verify(&self, auth_token: &str) -> bool {
        let Some(signature) = self.signature.as_deref() else {
            return false;
        };
        let body_hash = query_param(&self.url, "bodySHA256");
        if let Some(expected) = &body_hash {
            let actual = hex(&Sha256::digest(&self.body));
            if !crate::platform::secret::constant_time_eq(actual.as_bytes(), expected.to_ascii_lowercase().as_bytes()) {
                return false;
            }
        }
        let params: &[(String, String)] = if body_hash.is_some() { &[] } else { &self.params };
        url_variants(&self.url).iter().any(|url| {
            crate::platform::secret::constant_time_eq(compute(auth_token, url, params).as_bytes(), signature.as_bytes())
        })
    }
}

/// The signature Twilio would send for `url` and `params`.
pub fn compute(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    BASE64.encode(mac.finalize().into_bytes())
}

/// The URL as given, and with its default port toggled (443 for https, 80 for http).
fn url_variants(url: &str) -> Vec<String> {
    let mut variants = vec![url.to_owned()];
    let Some(scheme_end) = url.find("://") else {
        return variants;
    };
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| authority_start + i);
    let authority = &url[authority_start..authority_end];
    let default_port = match &url[..scheme_end] {
        "https" => "443",
        "http" => "80",
        _ => return variants,
    };
    // A port follows the last colon, unless that colon is inside an IPv6 literal.
    let has_port = |host: &str, port: &str| {
        !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && (!host.starts_with('[') || host.ends_with(']'))
    };
    let toggled = match authority.rsplit_once(':') {
        Some((host, port)) if has_port(host, port) => host.to_owned(),
        _ => format!("{authority}:{default_port}"),
    };
    variants.push(format!("{}{toggled}{}", &url[..authority_start], &url[authority_end..]));
    variants
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1.split('#').next().unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors computed with Python's hmac module; the first is the example
    // of Twilio's own security documentation.
    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    fn params() -> Vec<(String, String)> {
        [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec()
    }

    fn request(url: &str, params: Vec<(String, String)>, body: &[u8], signature: &str) -> SignedRequest {
        SignedRequest {
            url: url.to_owned(),
            params,
            body: body.to_vec(),
            signature: Some(signature.to_owned()),
        }
    }

    #[test]
    fn matches_twilios_documented_example() {
        assert_eq!(compute(TOKEN, URL, &params()), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
        assert!(request(URL, params(), b"", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=").verify(TOKEN));
        assert!(!request(URL, params(), b"", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=").verify("54321"));
        let mut tampered = params();
        tampered[2].1 = "9999".into();
        assert!(!request(URL, tampered, b"", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=").verify(TOKEN));
    }

    #[test]
    fn the_url_is_accepted_with_and_without_its_default_port() {
        // Signed with :443, received without, and the other way round.
        assert!(request(URL, params(), b"", "EpDEmp1PyjDYp77YxYU3GILBWzE=").verify(TOKEN));
        let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        assert!(request(with_port, params(), b"", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=").verify(TOKEN));
        assert_eq!(url_variants("http://h:8080/x"), ["http://h:8080/x", "http://h/x"]);
        assert_eq!(url_variants("http://h/x?a=1"), ["http://h/x?a=1", "http://h:80/x?a=1"]);
        assert_eq!(
            url_variants("https://[::1]:8443/x"),
            ["https://[::1]:8443/x", "https://[::1]/x"]
        );
        assert_eq!(
            url_variants("https://[::1]/x"),
            ["https://[::1]/x", "https://[::1]:443/x"]
        );
    }

    #[test]
    fn json_bodies_are_signed_through_body_sha256() {
        let body = br#"{"property":"value","boolean":true}"#;
        let hash = "d5729c000e5de6b3a10698fec78d482db85d744f1be820d1382b6bda1cfb7795";
        let url = format!("https://mycompany.com/myapp.php?bodySHA256={hash}");
        assert!(request(&url, vec![], body, "S3fW4swDzulE1VJfHiZwCjkucXI=").verify(TOKEN));
        assert!(!request(&url, vec![], br#"{"property":"other"}"#, "S3fW4swDzulE1VJfHiZwCjkucXI=").verify(TOKEN));
    }

    #[test]
    fn no_signature_never_verifies() {
        let unsigned = SignedRequest {
            url: URL.to_owned(),
            params: params(),
            ..Default::default()
        };
        assert!(!unsigned.verify(TOKEN));
    }
}
