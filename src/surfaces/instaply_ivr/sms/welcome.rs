//! The welcome SMS text.

/// Used when neither the store nor its organization set a message.
pub const DEFAULT_TEMPLATE: &str = "Thanks for calling {store}! Reply to this message to chat with us.";

/// The store's template, else the organization's, else the default, with
/// `{store}` replaced by the store's name.
pub fn render(store_template: Option<&str>, organization_template: Option<&str>, store_name: &str) -> String {
    store_template
        .or(organization_template)
        .unwrap_or(DEFAULT_TEMPLATE)
        .replace("{store}", store_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_template_wins_over_the_organization_one() {
        assert_eq!(
            render(Some("Hi from {store}"), Some("Org"), "Acme SF"),
            "Hi from Acme SF"
        );
        assert_eq!(render(None, Some("{store}, {store}!"), "Acme"), "Acme, Acme!");
    }

    #[test]
    fn falls_back_to_the_contract_default() {
        assert_eq!(
            render(None, None, "Acme <SF> & Co"),
            "Thanks for calling Acme <SF> & Co! Reply to this message to chat with us."
        );
    }
}
