//! The Redis apply script runs absolute writes only (a script that fails half way is then safe to
//! run again), and refuses a batch with any other command before it writes anything of it.

mod support;

use std::sync::Arc;

use event_store::RecordedEvent;
use projections::runtime::{Handled, RuntimeError};
use projections::{KeySpace, Projection, ProjectionError, RedisProjection, RedisWrite};
use support::{Harness, MAX_ATTEMPTS};

/// Sets `last:<stream>` for every event, and counts deposits with `HINCRBY` from version 1 on.
struct Counter;

impl RedisProjection for Counter {
    fn name(&self) -> &'static str {
        "test_counter"
    }
    fn categories(&self) -> &'static [&'static str] {
        &["ledger"]
    }
    fn writes(
        &self,
        keys: &KeySpace,
        event: &RecordedEvent,
    ) -> Result<Vec<RedisWrite>, ProjectionError> {
        let mut writes = vec![RedisWrite::new(
            "HSET",
            keys.key(&format!("last:{}", event.stream_id)),
            ["version".to_owned(), event.version.to_string()],
        )];
        if event.version >= 1 {
            writes.push(RedisWrite::new(
                "hincrby",
                keys.key("deposits"),
                [event.stream_id.to_string(), "1".to_owned()],
            ));
        }
        Ok(writes)
    }
}

/// Every key of the `test_counter` projection of this harness (its writes and its markers; not
/// its epoch, which says it is built).
async fn counter_keys(h: &Harness) -> Vec<String> {
    let keys = h
        .runtime
        .live_key_space("test_counter")
        .await
        .expect("epoch");
    let epoch = h.runtime.key_space("test_counter").key("epoch");
    let pattern = format!("{}:*", keys.base());
    let all: Vec<String> = redis::cmd("KEYS")
        .arg(pattern)
        .query_async(&mut h.redis.clone())
        .await
        .expect("keys");
    all.into_iter().filter(|key| *key != epoch).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relative_write_is_refused_before_anything_of_its_batch_is_written() {
    let h = Harness::new().await;
    let counter = Projection::Redis(Arc::new(Counter));
    h.mark_redis_built("test_counter").await;
    let events = h.append("count", &[Some(1), Some(2)]).await;

    // v0 never arrived: v1 brings it along, so the batch is [v0 (HSET), v1 (HSET, HINCRBY)].
    let error = h
        .runtime
        .apply(&counter, &events[1])
        .await
        .expect_err("a batch with HINCRBY is refused");
    assert!(
        matches!(
            &error,
            RuntimeError::NotAbsoluteWrite { projection, command }
                if projection == "test_counter" && command == "HINCRBY"
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "test_counter asked for HINCRBY, not an absolute write: nothing written"
    );
    assert!(
        !error.is_transient(),
        "a refused write is a bug, not an outage"
    );
    assert_eq!(
        counter_keys(&h).await,
        Vec::<String>::new(),
        "no write and no marker"
    );

    // Through the handler it is tried, then parked like any bad event; still nothing written.
    let handled = h.runtime.handle(&counter, &events[1]).await;
    assert_eq!(handled, Handled::Parked);
    let parked = h.parked(&counter).await;
    assert_eq!(
        parked,
        vec![("ledger-count".to_owned(), Some(1), MAX_ATTEMPTS as i32)]
    );
    assert_eq!(counter_keys(&h).await, Vec::<String>::new());
}

/// Emits the same writes for every event.
struct Fixed(Vec<(&'static str, Vec<&'static str>)>);

impl RedisProjection for Fixed {
    fn name(&self) -> &'static str {
        "test_fixed"
    }
    fn categories(&self) -> &'static [&'static str] {
        &["ledger"]
    }
    fn writes(
        &self,
        keys: &KeySpace,
        _event: &RecordedEvent,
    ) -> Result<Vec<RedisWrite>, ProjectionError> {
        Ok(self
            .0
            .iter()
            .map(|(command, args)| RedisWrite::new(command, keys.key("k"), args.clone()))
            .collect())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_increment_or_an_expiry_hidden_in_an_allowed_command_is_refused_too() {
    let h = Harness::new().await;
    let events = h.append("options", &[Some(1)]).await;
    h.mark_redis_built("test_fixed").await;
    let refused = [
        (vec![("ZADD", vec!["INCR", "1", "m"])], "ZADD INCR"),
        (vec![("zadd", vec!["XX", "incr", "1", "m"])], "ZADD INCR"),
        (vec![("SET", vec!["v", "EX", "10"])], "SET with options"),
        (vec![("DEL", vec![]), ("EXPIRE", vec!["10"])], "EXPIRE"),
    ];
    for (writes, command) in refused {
        let fixed = Projection::Redis(Arc::new(Fixed(writes)));
        let error = h
            .runtime
            .apply(&fixed, &events[0])
            .await
            .expect_err(command);
        let named = match &error {
            RuntimeError::NotAbsoluteWrite { command, .. } => command.as_str(),
            _ => "",
        };
        assert_eq!(named, command, "{error:?}");
    }
    // Absolute forms of the same commands (any case) run.
    let fine = Projection::Redis(Arc::new(Fixed(vec![("zadd", vec!["GT", "1", "INCR"])])));
    h.runtime
        .apply(&fine, &events[0])
        .await
        .expect("absolute ZADD");
    let score: f64 = redis::cmd("ZSCORE")
        .arg(
            h.runtime
                .live_key_space("test_fixed")
                .await
                .expect("epoch")
                .key("k"),
        )
        .arg("INCR")
        .query_async(&mut h.redis.clone())
        .await
        .expect("zscore");
    assert_eq!(score, 1.0);
}
