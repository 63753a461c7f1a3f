//! A size-bounded, short-lived moka cache of answers, each remembering the version of its
//! stream that the read model had applied when it was filled.
//!
//! Invariants (tested below):
//! - [`VersionedCache::get`] with a minimum version returns an entry only if it was filled at
//!   that version or later, so a consistency token is never answered from older data.
//! - [`VersionedCache::insert`] never replaces an entry with one filled at an older version
//!   (two concurrent fills may finish in either order).
//!
//! The version stored is read *before* the data, so the data is at least that new.

use std::{sync::Arc, time::Duration};

use moka::{future::Cache, ops::compute::Op};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{family::Family, gauge::Gauge},
};
use server::{Counter, Registry};
use std::sync::atomic::AtomicU64;

/// Labels of the cache metrics.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    /// Which cache: `product`, `customer`, `cart`, `order`, `payment`, `checkout`.
    pub cache: String,
}

/// The cache metrics of a process: `query_cache_hits_total`, `query_cache_misses_total` and
/// `query_cache_hit_ratio` (hits / lookups since start), per cache.
#[derive(Clone, Default)]
pub struct CacheMetrics {
    hits: Family<CacheLabels, Counter>,
    misses: Family<CacheLabels, Counter>,
    ratio: Family<CacheLabels, Gauge<f64, AtomicU64>>,
}

impl CacheMetrics {
    /// Registers the metrics in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "query_cache_hits",
            "Query answers served from the cache",
            self.hits.clone(),
        );
        registry.register(
            "query_cache_misses",
            "Query answers read from the read model",
            self.misses.clone(),
        );
        registry.register(
            "query_cache_hit_ratio",
            "Share of lookups served from the cache since start",
            self.ratio.clone(),
        );
    }

    fn record(&self, cache: &'static str, hit: bool) {
        let labels = CacheLabels {
            cache: cache.to_owned(),
        };
        let hits = self.hits.get_or_create(&labels);
        let misses = self.misses.get_or_create(&labels);
        if hit {
            hits.inc()
        } else {
            misses.inc()
        };
        let (h, m) = (hits.get() as f64, misses.get() as f64);
        self.ratio.get_or_create(&labels).set(h / (h + m));
    }

    /// Hits and misses of `cache` so far.
    pub fn counts(&self, cache: &'static str) -> (u64, u64) {
        let labels = CacheLabels {
            cache: cache.to_owned(),
        };
        (
            self.hits.get_or_create(&labels).get(),
            self.misses.get_or_create(&labels).get(),
        )
    }
}

struct Entry<V> {
    value: Arc<V>,
    version: Option<u64>,
}

impl<V> Clone for Entry<V> {
    fn clone(&self) -> Self {
        Self {
            value: self.value.clone(),
            version: self.version,
        }
    }
}

/// Answers keyed by id, with the stream version they were filled at.
pub struct VersionedCache<V> {
    name: &'static str,
    entries: Cache<String, Entry<V>>,
    metrics: CacheMetrics,
}

impl<V: Send + Sync + 'static> VersionedCache<V> {
    /// A cache of at most `capacity` entries, each served for at most `ttl`.
    pub fn new(name: &'static str, capacity: u64, ttl: Duration, metrics: CacheMetrics) -> Self {
        Self {
            name,
            entries: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
            metrics,
        }
    }

    /// The entry for `key` if it was filled at version `min_version` or later (any entry when
    /// `None`). Counts a hit or a miss.
    pub async fn get(&self, key: &str, min_version: Option<u64>) -> Option<Arc<V>> {
        let found = self
            .entries
            .get(key)
            .await
            .filter(|entry| match min_version {
                None => true,
                Some(min) => entry.version.is_some_and(|version| version >= min),
            });
        self.metrics.record(self.name, found.is_some());
        found.map(|entry| entry.value)
    }

    /// Stores `value`, filled when the stream's marker was `version`, unless the cache holds an
    /// entry filled at a newer version.
    pub async fn insert(&self, key: String, value: Arc<V>, version: Option<u64>) {
        let fresh = Entry { value, version };
        self.entries
            .entry(key)
            .and_compute_with(|existing| {
                let keep = existing.is_some_and(|old| old.value().version > fresh.version);
                std::future::ready(if keep { Op::Nop } else { Op::Put(fresh) })
            })
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> VersionedCache<&'static str> {
        VersionedCache::new(
            "test",
            100,
            Duration::from_secs(60),
            CacheMetrics::default(),
        )
    }

    #[tokio::test]
    async fn an_entry_older_than_the_token_is_a_miss() {
        let cache = cache();
        cache.insert("a".into(), Arc::new("v3"), Some(3)).await;
        assert_eq!(cache.get("a", None).await.as_deref(), Some(&"v3"));
        assert_eq!(cache.get("a", Some(3)).await.as_deref(), Some(&"v3"));
        assert_eq!(cache.get("a", Some(4)).await, None);
        assert_eq!(cache.metrics.counts("test"), (2, 1));
    }

    #[tokio::test]
    async fn an_older_fill_never_replaces_a_newer_one() {
        let cache = cache();
        cache.insert("a".into(), Arc::new("v5"), Some(5)).await;
        cache.insert("a".into(), Arc::new("v4"), Some(4)).await;
        assert_eq!(cache.get("a", None).await.as_deref(), Some(&"v5"));
        cache.insert("a".into(), Arc::new("v6"), Some(6)).await;
        assert_eq!(cache.get("a", Some(6)).await.as_deref(), Some(&"v6"));
    }

    #[tokio::test]
    async fn entries_expire_after_their_ttl() {
        let cache =
            VersionedCache::new("t", 10, Duration::from_millis(30), CacheMetrics::default());
        cache.insert("a".into(), Arc::new(1), Some(1)).await;
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(cache.get("a", None).await, None);
    }
}
