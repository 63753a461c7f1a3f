//! Transient PostgreSQL errors (an outage, a failover, a lost race) raised while a read model
//! applies an event: the handler waits and retries, it never parks the event, and the event is
//! applied once the fault clears. Faults are injected by a trigger on the read model's table.

mod support;

use projections::runtime::{Applied, Handled};
use support::{Harness, MAX_ATTEMPTS};

/// Makes the next `times` inserts into `test_ledger_entries` fail with SQLSTATE `sqlstate`.
/// The countdown is a sequence, not a table: `nextval` survives the rollback of the failing
/// transaction, an update of a flag row would not.
async fn inject_fault(h: &Harness, sqlstate: &str, times: u32) {
    sqlx::raw_sql(&format!(
        "CREATE SEQUENCE test_fault_calls; \
         CREATE FUNCTION test_fault() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN \
           IF nextval('test_fault_calls') <= {times} THEN \
             RAISE EXCEPTION 'injected fault' USING ERRCODE = '{sqlstate}'; \
           END IF; \
           RETURN NEW; \
         END $$; \
         CREATE TRIGGER test_fault BEFORE INSERT ON test_ledger_entries \
           FOR EACH ROW EXECUTE FUNCTION test_fault();"
    ))
    .execute(&h.db.pool)
    .await
    .expect("fault trigger");
}

/// The fault outlasts one handling (all its tries): the handler must answer "retry later", park
/// nothing, and apply the event (and the stream's next one) when it is offered again.
async fn a_transient_fault_waits_and_never_parks(sqlstate: &str) {
    let h = Harness::new().await;
    let events = h.append("flaky", &[Some(5), Some(7)]).await;
    inject_fault(&h, sqlstate, MAX_ATTEMPTS).await;

    let first = h.runtime.handle(&h.table, &events[0]).await;
    assert_eq!(first, Handled::RetryLater, "SQLSTATE {sqlstate}");
    assert!(h.parked(&h.table).await.is_empty(), "SQLSTATE {sqlstate}");
    assert!(h.pg_versions("flaky").await.is_empty());

    // The broker offers it again; the fault has cleared.
    let again = h.runtime.handle(&h.table, &events[0]).await;
    assert_eq!(again, Handled::Applied(Applied::Applied { filled: 0 }));
    let next = h.runtime.handle(&h.table, &events[1]).await;
    assert_eq!(next, Handled::Applied(Applied::Applied { filled: 0 }));
    assert_eq!(h.pg_versions("flaky").await, vec![0, 1]);
    assert_eq!(h.pg_total("flaky").await, Some(12));
    assert!(h.parked(&h.table).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_shutdown_while_applying_waits_and_parks_nothing() {
    a_transient_fault_waits_and_never_parks("57P01").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_transaction_from_a_demoted_primary_waits_and_parks_nothing() {
    a_transient_fault_waits_and_never_parks("25006").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadlock_while_applying_is_retried_and_parks_nothing() {
    a_transient_fault_waits_and_never_parks("40P01").await;
}

/// The same inside a batch: the whole batch waits (nothing of it applied, nothing parked, the
/// other streams' events included), then applies whole.
async fn a_transient_fault_inside_a_batch_waits_and_never_parks(sqlstate: &str) {
    let h = Harness::new().await;
    let one = h.append("one", &[Some(5), Some(7)]).await;
    let other = h.append("other", &[Some(1)]).await;
    let batch = [&one[0], &other[0], &one[1]];
    inject_fault(&h, sqlstate, MAX_ATTEMPTS).await;

    let first = h.runtime.handle_batch(&h.table, &batch).await;
    assert_eq!(first, vec![Handled::RetryLater; 3], "SQLSTATE {sqlstate}");
    assert!(h.parked(&h.table).await.is_empty(), "SQLSTATE {sqlstate}");
    assert!(h.pg_versions("one").await.is_empty());
    assert!(h.pg_versions("other").await.is_empty());

    let again = h.runtime.handle_batch(&h.table, &batch).await;
    assert_eq!(
        again,
        vec![Handled::Applied(Applied::Applied { filled: 0 }); 3]
    );
    assert_eq!(h.pg_versions("one").await, vec![0, 1]);
    assert_eq!(h.pg_versions("other").await, vec![0]);
    assert!(h.parked(&h.table).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_shutdown_inside_a_batch_waits_and_parks_nothing() {
    a_transient_fault_inside_a_batch_waits_and_never_parks("57P01").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_transaction_inside_a_batch_waits_and_parks_nothing() {
    a_transient_fault_inside_a_batch_waits_and_never_parks("25006").await;
}
