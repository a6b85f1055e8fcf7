//! The process's one LISTEN connection: every channel on it, each subscriber
//! told when its channel is listened to and when the connection is lost.

use std::time::Duration;

use ivr_gateway::platform::db;
use ivr_gateway::platform::notifications::{Notice, Notifications, Subscription};

use crate::helpers::*;

async fn next(subscription: &mut Subscription) -> Notice {
    tokio::time::timeout(Duration::from_secs(10), subscription.recv())
        .await
        .expect("a notice within 10 s")
        .expect("the listener is running")
}

async fn notify(app: &TestApp, channel: &str, payload: &str) {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(channel)
        .bind(payload)
        .execute(&app.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn every_channel_shares_one_connection_and_each_subscriber_gets_its_own() {
    let app = spawn_app().await;
    let name = format!("notifications-{}", uuid::Uuid::new_v4().simple());
    // Its own application name, to count its connections.
    let pool = sqlx::postgres::PgPoolOptions::new().connect_lazy_with(app.database.clone().application_name(&name));
    let notifications = Notifications::start(pool);
    let mut first = notifications.subscribe("first_channel");
    let mut second = notifications.subscribe("second_channel");
    let mut second_again = notifications.subscribe("second_channel");
    for subscription in [&mut first, &mut second, &mut second_again] {
        assert_eq!(next(subscription).await, Notice::Listening);
    }

    notify(&app, "first_channel", "one").await;
    notify(&app, "second_channel", "two").await;
    assert_eq!(next(&mut first).await, Notice::Notified("one".into()));
    assert_eq!(next(&mut second).await, Notice::Notified("two".into()));
    assert_eq!(next(&mut second_again).await, Notice::Notified("two".into()));

    let connections: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1")
        .bind(&name)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(connections, 1, "one LISTEN connection for every channel and subscriber");

    // A late subscriber to a channel already listened to hears so at once.
    let mut late = notifications.subscribe("first_channel");
    assert_eq!(next(&mut late).await, Notice::Listening);
}

#[tokio::test]
async fn a_lost_connection_is_told_then_listened_to_again() {
    let app = spawn_app_with(TestSettings {
        through_proxy: true,
        ..Default::default()
    })
    .await;
    let proxy = app.proxy.as_ref().unwrap();
    let pool = db::connect_with(
        app.database.clone().host("127.0.0.1").port(proxy.port),
        4,
        Duration::from_secs(1),
    );
    let notifications = Notifications::start(pool);
    let mut changes = notifications.subscribe("changes");
    assert_eq!(next(&mut changes).await, Notice::Listening);

    proxy.cut().await;
    assert_eq!(next(&mut changes).await, Notice::Lost);
    // Sent while nobody listened: gone, which is why `Lost` is said.
    notify(&app, "changes", "unseen").await;
    proxy.restore();
    assert_eq!(next(&mut changes).await, Notice::Listening);
    notify(&app, "changes", "seen").await;
    assert_eq!(next(&mut changes).await, Notice::Notified("seen".into()));
}
