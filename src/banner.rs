//! What `serve` says once it answers, on stdout for the person who started
//! it: where, where its data lives, and a request to try.

use std::net::SocketAddr;

use crate::control::fixtures::Fixtures;

/// The public Instaply page's example key: documentation, not a secret, so
/// the banner may show it (any other key stays out of the output).
const PUBLIC_EXAMPLE_KEY: &str = "a73d5034210f702515128ac61193cd21";
/// The public page's example caller.
const EXAMPLE_CALLER: &str = "%2B14151234560";

pub fn ready(bind: SocketAddr, data: &str, fixtures: Option<&Fixtures>) -> String {
    let base = format!("http://{bind}");
    let (key, to) =
        example_call(fixtures).unwrap_or_else(|| ("<an API key>".to_owned(), "<a business number>".to_owned()));
    format!(
        "ivr-gateway {version} is ready on {base}\n  \
         docs:  {base}/docs/  (OpenAPI: {base}/openapi.json)\n  \
         data:  {data}\n  \
         try:   curl '{base}/v1/ivr?key={key}&from={EXAMPLE_CALLER}&to={to}'",
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// The example key and a business number of its organization, when the
/// fixtures hold them.
fn example_call(fixtures: Option<&Fixtures>) -> Option<(String, String)> {
    let organization = fixtures?
        .organizations
        .iter()
        .find(|o| o.api_keys.iter().any(|k| k.expose() == PUBLIC_EXAMPLE_KEY))?;
    let phone = organization.stores.iter().flat_map(|s| &s.phones).next()?;
    Some((PUBLIC_EXAMPLE_KEY.to_owned(), phone.as_str().replace('+', "%2B")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::domain::PhoneValidation;

    #[test]
    fn the_example_fixtures_give_a_request_that_works_and_other_keys_stay_hidden() {
        let example =
            Fixtures::from_toml(include_str!("../examples/fixtures.toml"), PhoneValidation::Possible).unwrap();
        let said = ready(
            "127.0.0.1:8080".parse().unwrap(),
            "embedded PostgreSQL in /tmp/x",
            Some(&example),
        );
        assert!(said.contains("ready on http://127.0.0.1:8080"), "{said}");
        assert!(said.contains("docs:  http://127.0.0.1:8080/docs/"), "{said}");
        assert!(
            said.contains(
                "curl 'http://127.0.0.1:8080/v1/ivr?key=a73d5034210f702515128ac61193cd21&from=%2B14151234560&to=%2B14151234567'"
            ),
            "{said}"
        );
        let private = Fixtures::from_toml(
            "[[organizations]]\nname = \"Private\"\napi_keys = [\"private-s3cret-key\"]\n",
            PhoneValidation::Possible,
        )
        .unwrap();
        let said = ready("0.0.0.0:80".parse().unwrap(), "DATABASE_URL", Some(&private));
        assert!(!said.contains("private-s3cret-key"), "{said}");
        assert!(said.contains("key=<an API key>"), "{said}");
    }
}
