//! The hook's in-memory keys and stores: served from memory, dropped on the
//! database's notification whoever changed the tables.

use std::sync::Arc;
use std::time::Duration;

use ivr_gateway::platform::db;
use ivr_gateway::platform::directory::DirectoryCache;
use ivr_gateway::platform::domain::{ApiKey, PhoneNumber, PhoneValidation};
use ivr_gateway::platform::notifications::Notifications;

use crate::helpers::*;

/// A cache of its own on the app's database, once its listener is in place
/// (it listens for as long as the returned handle lives).
async fn listening_cache(app: &TestApp) -> (Arc<DirectoryCache>, Notifications) {
    let pool = db::connect_with(app.database.clone(), 4, Duration::from_secs(5));
    let notifications = Notifications::start(pool.clone());
    let cache = DirectoryCache::start(pool, &notifications);
    assert!(wait_for(Duration::from_secs(5), || async { cache.is_listening() }).await);
    (cache, notifications)
}

#[tokio::test]
async fn lookups_are_served_from_memory_until_the_database_says_the_directory_changed() {
    let app = spawn_app().await;
    let (cache, _listening) = listening_cache(&app).await;
    let key = ApiKey::parse(ACME_KEY).unwrap().hash();
    let sf = PhoneNumber::parse(ACME_SF, PhoneValidation::Format).unwrap();
    let acme = app.organization_id("Acme Retail").await;
    let owner = cache.key_owner(&key).await.unwrap().expect("Acme's key");
    assert_eq!(owner.organization_id, acme);
    assert_eq!(
        cache.store(acme, &sf).await.unwrap().unwrap().store_name,
        "Acme San Francisco"
    );

    // Changed without telling anyone: memory still answers.
    sqlx::raw_sql(
        "ALTER TABLE api_keys DISABLE TRIGGER api_keys_directory;
         ALTER TABLE stores DISABLE TRIGGER stores_directory;
         UPDATE api_keys SET revoked_at = now();
         UPDATE stores SET name = 'Acme SoMa' WHERE name = 'Acme San Francisco';",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    assert!(cache.key_owner(&key).await.unwrap().is_some(), "served from memory");
    assert_eq!(
        cache.store(acme, &sf).await.unwrap().unwrap().store_name,
        "Acme San Francisco"
    );

    sqlx::query("NOTIFY ivr_directory").execute(&app.pool).await.unwrap();
    assert!(
        wait_for(Duration::from_secs(5), || async {
            cache.key_owner(&key).await.unwrap().is_none()
        })
        .await,
        "the notification did not drop the revoked key"
    );
    assert_eq!(cache.store(acme, &sf).await.unwrap().unwrap().store_name, "Acme SoMa");
}

#[tokio::test]
async fn unknown_keys_are_remembered_as_unknown_until_a_key_is_added() {
    let app = spawn_app().await;
    let (cache, _listening) = listening_cache(&app).await;
    let key = ApiKey::parse("a-key-added-later").unwrap();
    assert!(cache.key_owner(&key.hash()).await.unwrap().is_none());
    let mut conn = app.pool.acquire().await.unwrap();
    assert!(
        ivr_gateway::platform::directory::lookup::add_api_key(&mut conn, "Globex Paris", &key)
            .await
            .unwrap()
    );
    let globex = app.organization_id("Globex Paris").await;
    assert!(
        wait_for(Duration::from_secs(5), || async {
            cache.key_owner(&key.hash()).await.unwrap().map(|o| o.organization_id) == Some(globex)
        })
        .await,
        "the added key stayed unknown"
    );
}
