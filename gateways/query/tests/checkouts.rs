//! `CheckoutQueries` against the real `checkouts` read model: the checkout story
//! ([`projections::testing::checkouts`]) projected by the runtime (markers included) and read
//! back over gRPC through a real `commerce-query` server.

use std::time::Duration;

use ::query::testing::{World, admin, assert_code, authed, customer};
use proto::query::{self, ConsistencyToken, checkout_queries_client::CheckoutQueriesClient};
use tonic::{Code, transport::Channel};
use uuid::Uuid;

fn get(
    order_id: impl ToString,
    consistency: Option<ConsistencyToken>,
) -> query::GetCheckoutRequest {
    query::GetCheckoutRequest {
        order_id: order_id.to_string(),
        consistency,
    }
}

fn stuck(limit: u32, cursor: &str) -> query::ListStuckCheckoutsRequest {
    query::ListStuckCheckoutsRequest {
        limit,
        cursor: cursor.to_owned(),
        consistency: None,
    }
}

fn client(world: &World) -> CheckoutQueriesClient<Channel> {
    CheckoutQueriesClient::new(world.channel.clone())
}

#[tokio::test]
async fn a_customer_reads_their_own_checkout_with_its_timeline_and_no_one_elses() {
    let mut world = World::start(Duration::from_millis(300)).await;
    let c = world.write_checkouts().await;
    let (alice, bob) = (customer(c.alice), customer(c.bob));
    let mut checkouts = client(&world);

    let out = checkouts
        .get_checkout(authed(&alice, get(c.out_of_stock, None)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(out.order_id, c.out_of_stock.to_string());
    assert_eq!(out.customer_id, c.alice.to_string());
    assert_eq!(
        (out.status.as_str(), out.reason.as_deref()),
        ("cancelled", Some("out of stock"))
    );
    assert_eq!(out.method, "balance");
    assert_eq!(out.total.as_ref().unwrap().amount_minor, 13_998);
    assert_eq!(out.version, 6);
    let kinds: Vec<&str> = out.timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "CheckoutStarted",
            "CheckoutStepSucceeded",
            "CheckoutStepRefused",
            "CheckoutCompensationStarted",
            "CheckoutStepSucceeded",
            "CheckoutStepSucceeded",
            "CheckoutCancelled",
        ]
    );
    let refused = &out.timeline[2];
    assert_eq!(refused.step, Some(format!("reserve:{}", c.jacket)));
    assert_eq!(refused.detail.as_deref(), Some("only 0 of 1 available"));
    assert_eq!(out.timeline[0].at, out.started_at);
    assert!(out.deadline_at.ends_with('Z'), "{}", out.deadline_at);

    // Another customer's checkout is refused as another customer's order is; an unknown or
    // malformed id as for orders too.
    let status = assert_code(
        checkouts
            .get_checkout(authed(&bob, get(c.out_of_stock, None)))
            .await,
        Code::PermissionDenied,
        "bob reads alice's checkout",
    );
    assert!(!status.message().contains("out of stock"), "{status:?}");
    assert_code(
        checkouts
            .get_checkout(authed(&alice, get(Uuid::new_v4(), None)))
            .await,
        Code::NotFound,
        "an unknown checkout",
    );
    assert_code(
        checkouts
            .get_checkout(authed(&alice, get("order-1", None)))
            .await,
        Code::InvalidArgument,
        "a malformed order id",
    );
    let mine = checkouts
        .get_checkout(authed(&bob, get(c.refunded, None)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (mine.status.as_str(), mine.method.as_str()),
        ("refunded", "external")
    );
    // Admins read any.
    let any = checkouts
        .get_checkout(authed(&admin(), get(c.out_of_stock, None)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(any, out);
}

#[tokio::test]
async fn get_checkout_waits_for_a_checkout_streams_token_and_refuses_an_orders() {
    let mut world = World::start(Duration::from_millis(300)).await;
    let c = world.write_checkouts().await;
    let alice = customer(c.alice);
    let mut checkouts = client(&world);
    let token = |category: &str, version| ConsistencyToken {
        stream_id: format!("{category}-{}", c.paid),
        version,
    };

    let paid = checkouts
        .get_checkout(authed(&alice, get(c.paid, Some(token("checkout", 9)))))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((paid.status.as_str(), paid.version), ("completed", 9));
    let status = assert_code(
        checkouts
            .get_checkout(authed(&alice, get(c.paid, Some(token("checkout", 10)))))
            .await,
        Code::Unavailable,
        "a version the model never reaches",
    );
    assert!(
        status.message().starts_with("not_yet_consistent"),
        "{status:?}"
    );
    assert_code(
        checkouts
            .get_checkout(authed(&alice, get(c.paid, Some(token("order", 0)))))
            .await,
        Code::InvalidArgument,
        "the order stream's token",
    );
}

#[tokio::test]
async fn only_admins_list_the_stuck_checkouts_which_are_exactly_the_overdue_ones_still_driven() {
    let mut world = World::start(Duration::from_millis(300)).await;
    let c = world.write_checkouts().await;
    let mut checkouts = client(&world);

    for bearer in [customer(c.alice), customer(c.bob)] {
        assert_code(
            checkouts
                .list_stuck_checkouts(authed(&bearer, stuck(0, "")))
                .await,
            Code::PermissionDenied,
            "a customer lists the stuck checkouts",
        );
    }
    let admin = admin();
    let all = checkouts
        .list_stuck_checkouts(authed(&admin, stuck(0, "")))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<String> = all.checkouts.iter().map(|c| c.order_id.clone()).collect();
    // Not the completed, cancelled or refunded ones, nor the running one within its deadline.
    assert_eq!(
        ids,
        [c.waiting, c.compensating, c.refunding].map(|id| id.to_string())
    );
    let statuses: Vec<&str> = all.checkouts.iter().map(|c| c.status.as_str()).collect();
    assert_eq!(statuses, ["running", "compensating", "refunding"]);
    assert_eq!(all.next_cursor, "");

    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = checkouts
            .list_stuck_checkouts(authed(&admin, stuck(1, &cursor)))
            .await
            .unwrap()
            .into_inner();
        assert!(page.checkouts.len() <= 1);
        seen.extend(page.checkouts.into_iter().map(|c| c.order_id));
        if page.next_cursor.is_empty() {
            break;
        }
        cursor = page.next_cursor;
    }
    assert_eq!(seen, ids, "oldest first, each once");

    assert_code(
        checkouts
            .list_stuck_checkouts(authed(&admin, stuck(101, "")))
            .await,
        Code::InvalidArgument,
        "a limit over 100",
    );
    assert_code(
        checkouts
            .list_stuck_checkouts(authed(&admin, stuck(1, "x1")))
            .await,
        Code::InvalidArgument,
        "a malformed cursor",
    );
}
