//! One statement journals a batch of calls and queues their welcome SMS:
//! within a batch and across batches, the cool-down and opt-outs hold as if
//! each call had been written alone.

use std::time::Duration;

use ivr_gateway::platform::domain::{PhoneNumber, PhoneValidation};
use ivr_gateway::surfaces::instaply_ivr::journal::{self, NewCall, NewWelcome, Outcome, SmsSkipped};
use ivr_gateway::surfaces::instaply_ivr::journal::{CallWriter, JournalCalls};
use uuid::Uuid;

use crate::helpers::*;

const DAY: Duration = Duration::from_secs(86_400);

/// outcome, from, sms_id, sms_skipped, http_status
type JournalRow = (String, Option<String>, Option<Uuid>, Option<String>, i16);

fn phone(number: &str) -> PhoneNumber {
    PhoneNumber::parse(number, PhoneValidation::Format).unwrap()
}

/// A call to `store` (reached on `business`) from `caller`, with its welcome SMS.
fn welcomed(organization: i64, store: i64, business: &str, caller: &str) -> NewCall {
    NewCall {
        method: "GET",
        from: Some(caller.to_owned()),
        to: Some(business.to_owned()),
        context: None,
        organization_id: Some(organization),
        store_id: Some(store),
        outcome: Outcome::Dial,
        welcome: Some(NewWelcome {
            id: Uuid::now_v7(),
            from: phone(business),
            to: phone(caller),
            body: format!("hello {caller}"),
            context: None,
        }),
    }
}

fn refused() -> NewCall {
    NewCall {
        method: "POST",
        from: Some("+1 not a number".to_owned()),
        to: None,
        context: None,
        organization_id: None,
        store_id: None,
        outcome: Outcome::InvalidKey,
        welcome: None,
    }
}

async fn write(app: &TestApp, batch: &[NewCall], cooldown: Duration) -> Vec<journal::WelcomeOutcome> {
    let batch: Vec<&NewCall> = batch.iter().collect();
    let mut tx = app.pool.begin().await.unwrap();
    let outcomes = journal::record_batch(&mut tx, &batch, cooldown).await.unwrap();
    tx.commit().await.unwrap();
    outcomes
}

#[tokio::test]
async fn a_batch_queues_one_welcome_per_store_and_caller_and_none_for_opted_out_callers() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Retail").await;
    let sf = app.store_id("Acme San Francisco").await;
    let oakland = app.store_id("Acme Oakland").await;
    let batch = [
        welcomed(acme, sf, ACME_SF, CALLER),
        welcomed(acme, sf, ACME_SF, CALLER),
        welcomed(acme, sf, ACME_SF, OPTED_OUT_CALLER),
        refused(),
        welcomed(acme, sf, ACME_SF, OPTED_OUT_CALLER),
        welcomed(acme, oakland, ACME_OAKLAND, CALLER),
    ];
    let ids: Vec<Uuid> = batch.iter().filter_map(|c| c.welcome.as_ref().map(|w| w.id)).collect();
    let outcomes = write(&app, &batch, DAY).await;
    assert_eq!(
        outcomes,
        [
            Some(Ok(ids[0])),
            Some(Err(SmsSkipped::Cooldown)),
            Some(Err(SmsSkipped::OptedOut)),
            None,
            Some(Err(SmsSkipped::OptedOut)),
            Some(Ok(ids[4])),
        ]
    );
    let journal: Vec<JournalRow> =
        sqlx::query_as("SELECT outcome, from_number, sms_id, sms_skipped, http_status FROM calls ORDER BY id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let expected = [
        ("dial", Some(CALLER), Some(ids[0]), None, 200),
        ("dial", Some(CALLER), None, Some("cooldown"), 200),
        ("dial", Some(OPTED_OUT_CALLER), None, Some("opted_out"), 200),
        ("invalid_key", Some("+1 not a number"), None, None, 403),
        ("dial", Some(OPTED_OUT_CALLER), None, Some("opted_out"), 200),
        ("dial", Some(CALLER), Some(ids[4]), None, 200),
    ]
    .map(|(outcome, from, sms, skipped, status)| {
        (
            outcome.to_owned(),
            from.map(str::to_owned),
            sms,
            skipped.map(str::to_owned),
            status,
        )
    });
    assert_eq!(journal, expected, "journal rows in the batch's order");
    let queued: Vec<(String, String, String)> =
        sqlx::query_as("SELECT from_number, to_number, body FROM sms_outbox ORDER BY from_number")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        queued,
        [
            (ACME_SF.to_owned(), CALLER.to_owned(), format!("hello {CALLER}")),
            (ACME_OAKLAND.to_owned(), CALLER.to_owned(), format!("hello {CALLER}")),
        ]
    );

    // The next batch sees the cool-down the first one claimed.
    assert_eq!(
        write(&app, &[welcomed(acme, sf, ACME_SF, CALLER)], DAY).await,
        [Some(Err(SmsSkipped::Cooldown))]
    );
}

#[tokio::test]
async fn without_a_cool_down_every_call_of_a_batch_queues_its_welcome() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Retail").await;
    let sf = app.store_id("Acme San Francisco").await;
    let batch = [
        welcomed(acme, sf, ACME_SF, CALLER),
        welcomed(acme, sf, ACME_SF, CALLER),
        welcomed(acme, sf, ACME_SF, OPTED_OUT_CALLER),
    ];
    let outcomes = write(&app, &batch, Duration::ZERO).await;
    assert!(
        matches!(
            outcomes[..],
            [Some(Ok(_)), Some(Ok(_)), Some(Err(SmsSkipped::OptedOut))]
        ),
        "{outcomes:?}"
    );
    assert_eq!(app.sms_count().await, 2);
}

#[tokio::test]
async fn concurrent_new_callers_each_get_their_sms_and_a_journal_row() {
    let app = spawn_app().await;
    let callers: Vec<String> = (0..200).map(|n| format!("+1415200{n:04}")).collect();
    let answers =
        futures_util::future::join_all(callers.iter().map(|caller| app.call(ACME_KEY, caller, ACME_SF))).await;
    for answer in &answers {
        answer.assert_twiml(DIAL_ACME_SF);
    }
    let linked: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT s.to_number) FROM calls c JOIN sms_outbox s ON s.id = c.sms_id AND s.to_number = c.from_number",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((linked, app.sms_count().await), (200, 200));
}

#[tokio::test]
async fn a_call_whose_caller_gave_up_is_rolled_back_and_the_rest_of_its_batch_commits() {
    let app = spawn_app().await;
    let acme = app.organization_id("Acme Retail").await;
    let sf = app.store_id("Acme San Francisco").await;
    let oakland = app.store_id("Acme Oakland").await;
    let writer = CallWriter::start(&app.pool, 1, JournalCalls { cooldown: DAY });
    let blocker = hold_cooldown_row(&app).await;

    let waiting = welcomed(acme, oakland, ACME_OAKLAND, CALLER);
    let waiting_sms = waiting.welcome.as_ref().unwrap().id;
    // Queued before the impatient call, so a batch of its own would not be blocked.
    let kept = tokio::spawn({
        let writer = writer.clone();
        async move { writer.write(waiting).await }
    });
    let gone = tokio::spawn({
        let writer = writer.clone();
        let impatient = welcomed(acme, sf, ACME_SF, CALLER);
        async move { tokio::time::timeout(Duration::from_millis(300), writer.write(impatient)).await }
    });
    assert!(
        gone.await.unwrap().is_err(),
        "the impatient call waits on the cool-down row"
    );
    assert!(!kept.is_finished(), "both calls are in the batch blocked on that row");
    blocker.rollback().await.unwrap();

    assert_eq!(kept.await.unwrap().unwrap(), Some(Ok(waiting_sms)));
    let journal: Vec<(Option<String>, Option<Uuid>)> = sqlx::query_as("SELECT to_number, sms_id FROM calls")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(journal, [(Some(ACME_OAKLAND.to_owned()), Some(waiting_sms))]);
    let queued: Vec<String> = sqlx::query_scalar("SELECT from_number FROM sms_outbox")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(queued, [ACME_OAKLAND], "nothing of the abandoned call was committed");
    // Its cool-down was rolled back with it: the caller's next call is welcomed.
    let again = welcomed(acme, sf, ACME_SF, CALLER);
    let again_sms = again.welcome.as_ref().unwrap().id;
    assert_eq!(writer.write(again).await.unwrap(), Some(Ok(again_sms)));
}
