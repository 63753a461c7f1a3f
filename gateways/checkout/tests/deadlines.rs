//! The deadline table on the real PostgreSQL: claims are exclusive across replicas and expire,
//! "stuck" is a query, and `commerce-checkout stuck` lists it.

use std::time::Duration;

use aggregates::OrderId;
use checkout::deadlines::Deadlines;
use chrono::Utc;
use event_store::testing::TestDatabase;
use settings::ExposeSecret;
use uuid::Uuid;

fn id() -> OrderId {
    OrderId(Uuid::new_v4())
}

#[tokio::test]
async fn due_deadlines_are_claimed_by_one_replica_at_a_time_until_the_claim_ends() {
    let db = TestDatabase::create(4).await;
    let (a, b) = (
        Deadlines::new(db.pool.clone()),
        Deadlines::new(db.pool.clone()),
    );
    let due: Vec<OrderId> = (0..10).map(|_| id()).collect();
    for order in &due {
        a.set(*order, Utc::now() - chrono::Duration::seconds(1))
            .await
            .unwrap();
    }
    let later = id();
    a.set(later, Utc::now() + chrono::Duration::hours(1))
        .await
        .unwrap();
    // Setting again keeps the first due time.
    a.set(due[0], Utc::now() + chrono::Duration::hours(5))
        .await
        .unwrap();

    let claim = Duration::from_secs(1);
    let (first, second) = tokio::join!(a.claim_due(6, claim), b.claim_due(6, claim));
    let (first, second) = (first.unwrap(), second.unwrap());
    let mut all: Vec<OrderId> = first.iter().chain(&second).copied().collect();
    all.sort();
    all.dedup();
    assert_eq!(
        all.len(),
        first.len() + second.len(),
        "no deadline claimed twice"
    );
    assert_eq!(all.len(), 10, "every due one claimed, the later one not");
    assert!(!all.contains(&later));
    assert!(a.claim_due(10, claim).await.unwrap().is_empty(), "all held");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(
        b.claim_due(20, claim).await.unwrap().len(),
        10,
        "claims end by time"
    );
    a.clear(due[0]).await.unwrap();
    assert_eq!(a.count_stuck(Duration::ZERO).await.unwrap(), 9);
}

#[tokio::test]
async fn stuck_checkouts_are_listed_oldest_first_by_the_cli() {
    let db = TestDatabase::create(4).await;
    let deadlines = Deadlines::new(db.pool.clone());
    let (old, older, fresh) = (id(), id(), id());
    deadlines
        .set(old, Utc::now() - chrono::Duration::minutes(10))
        .await
        .unwrap();
    deadlines
        .set(older, Utc::now() - chrono::Duration::minutes(20))
        .await
        .unwrap();
    deadlines
        .set(fresh, Utc::now() - chrono::Duration::seconds(5))
        .await
        .unwrap();
    let stuck = deadlines.stuck(Duration::from_secs(60), 10).await.unwrap();
    let ids: Vec<OrderId> = stuck.iter().map(|s| s.order_id).collect();
    assert_eq!(ids, [older, old], "past the grace, oldest first");
    assert_eq!(
        deadlines
            .count_stuck(Duration::from_secs(60))
            .await
            .unwrap(),
        2
    );

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_commerce-checkout"))
        .arg("stuck")
        .env(
            "APP_DATABASE__URL",
            db.settings.database.url.expose_secret(),
        )
        .env("APP_CHECKOUT__STUCK_AFTER_SECS", "60")
        .output()
        .expect("the CLI runs");
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains(&older.to_string()), "{text}");
    assert!(lines[1].contains(&old.to_string()), "{text}");
    let usage = std::process::Command::new(env!("CARGO_BIN_EXE_commerce-checkout"))
        .arg("bogus")
        .output()
        .unwrap();
    assert!(!usage.status.success());
    assert!(String::from_utf8_lossy(&usage.stderr).contains("usage"));
}
