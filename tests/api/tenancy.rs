//! docs/ivr-hook.md §2: a key sees its own organization's numbers only.

use crate::helpers::*;

#[tokio::test]
async fn another_tenants_number_is_not_linked_for_this_key() {
    let app = spawn_app().await;
    let foreign = app.call(ACME_KEY, CALLER, GLOBEX_OPERA).await;
    let unknown = app.call(ACME_KEY, CALLER, "+33142685399").await;
    foreign.assert_twiml(NOT_LINKED);
    assert_eq!(
        foreign.body, unknown.body,
        "a foreign number must read exactly like an unknown one"
    );

    app.call(GLOBEX_KEY, CALLER, ACME_SF).await.assert_twiml(NOT_LINKED);
    assert_eq!(app.sms_count().await, 0);
}

#[tokio::test]
async fn the_journal_records_the_callers_organization_not_the_numbers_owner() {
    let app = spawn_app().await;
    app.call(ACME_KEY, CALLER, GLOBEX_OPERA).await;
    let call = app.last_call().await;
    assert_eq!(call.organization_id, Some(app.organization_id("Acme Retail").await));
    assert_eq!(call.store_id, None);
}
