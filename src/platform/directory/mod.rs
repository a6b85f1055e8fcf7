//! API keys and store routes, cached in memory so that a call needs no read
//! round trip. Every change to the tables behind them drops the whole cache:
//! at once in this process (the admin API calls [`DirectoryCache::invalidate`]
//! after each write), and in every replica through `NOTIFY ivr_directory`,
//! sent by triggers whoever writes (another replica, `seed`, psql).
//!
//! The cache is only used while this process is listening: before the
//! listener is in place, and from the moment it loses its connection until
//! it listens again, every lookup goes to the database.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use sqlx::PgPool;

/// The SQL behind the cache: a key's owner, a number's store.
pub mod lookup;
/// The tenants' SQL for the admin API and fixtures: organizations, keys, stores.
pub mod tenants;

pub use lookup::{KeyOwner, StoreRoute};

use crate::platform::domain::{KeyHash, PhoneNumber};
use crate::platform::notifications::{Notice, Notifications, Subscription};

/// Sent by statement triggers on organizations, keys, stores and numbers.
pub const CHANNEL: &str = "ivr_directory";
/// Entries per table. Unknown keys are cached too (a 403 must be as cheap
/// as a 200), so a client trying random keys must not grow memory: a full
/// table is emptied and refills with what is in use.
const MAX_ENTRIES: usize = 10_000;

pub struct DirectoryCache {
    pool: PgPool,
    keys: Table<KeyHash, Option<Arc<KeyOwner>>>,
    stores: Table<(i64, PhoneNumber), Option<Arc<StoreRoute>>>,
    /// Bumped by every invalidation: a lookup that read the database before
    /// one must not store what it read.
    generation: AtomicU64,
    listening: AtomicBool,
}

impl DirectoryCache {
    /// Follows [`CHANNEL`]; must be called inside the Tokio runtime. It stops
    /// following once the cache is dropped.
    pub fn start(pool: PgPool, notifications: &Notifications) -> Arc<Self> {
        let cache = Arc::new(Self {
            pool: pool.clone(),
            keys: Table::default(),
            stores: Table::default(),
            generation: AtomicU64::new(0),
            listening: AtomicBool::new(false),
        });
        tokio::spawn(follow(notifications.subscribe(CHANNEL), Arc::downgrade(&cache)));
        cache
    }

    /// The organization behind an active key, `None` for an unknown or revoked one.
    pub async fn key_owner(&self, key: &KeyHash) -> sqlx::Result<Option<Arc<KeyOwner>>> {
        self.cached(&self.keys, *key, async {
            let mut conn = self.pool.acquire().await?;
            Ok(lookup::organization_for_key(&mut conn, key).await?.map(Arc::new))
        })
        .await
    }

    /// The store behind `phone` within `organization_id`.
    pub async fn store(&self, organization_id: i64, phone: &PhoneNumber) -> sqlx::Result<Option<Arc<StoreRoute>>> {
        self.cached(&self.stores, (organization_id, phone.clone()), async {
            let mut conn = self.pool.acquire().await?;
            Ok(lookup::store_for_number(&mut conn, organization_id, phone)
                .await?
                .map(Arc::new))
        })
        .await
    }

    /// Whether lookups are being cached (the listener is in place).
    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::SeqCst)
    }

    /// Drops every entry; lookups already under way will not store theirs.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.keys.clear();
        self.stores.clear();
    }

    async fn cached<K: Hash + Eq, V: Clone>(
        &self,
        table: &Table<K, V>,
        key: K,
        load: impl Future<Output = sqlx::Result<V>>,
    ) -> sqlx::Result<V> {
        let generation = self.generation.load(Ordering::SeqCst);
        let usable = self.listening.load(Ordering::SeqCst);
        if usable && let Some(value) = table.get(&key) {
            return Ok(value);
        }
        let value = load.await?;
        if usable {
            table.insert_unless_stale(key, value.clone(), || {
                self.generation.load(Ordering::SeqCst) == generation
            });
        }
        Ok(value)
    }

    fn set_listening(&self, listening: bool) {
        self.listening.store(listening, Ordering::SeqCst);
        // Losing the listener: what is cached may change unseen from now on.
        // Regaining it: lookups that began before the loss must not store.
        self.invalidate();
    }
}

struct Table<K, V> {
    entries: Mutex<HashMap<K, V>>,
}

impl<K, V> Default for Table<K, V> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq, V: Clone> Table<K, V> {
    fn get(&self, key: &K) -> Option<V> {
        self.lock().get(key).cloned()
    }

    /// Stores `value` unless an invalidation happened since it was read;
    /// `fresh` is checked under the lock that [`Self::clear`] takes too.
    fn insert_unless_stale(&self, key: K, value: V, fresh: impl FnOnce() -> bool) {
        let mut entries = self.lock();
        if fresh() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(key, value);
        }
    }

    fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, V>> {
        // A panic elsewhere cannot leave a map half-updated: every change is one call.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn follow(mut changes: Subscription, cache: Weak<DirectoryCache>) {
    while let Some(notice) = changes.recv().await {
        let Some(live) = cache.upgrade() else { return };
        match notice {
            Notice::Listening => live.set_listening(true),
            Notice::Lost => live.set_listening(false),
            Notice::Notified(_) | Notice::Missed => live.invalidate(),
        }
    }
    // The listener stopped: never trust the cache again.
    if let Some(live) = cache.upgrade() {
        live.set_listening(false);
    }
}
