//! The causal chain of a real purchase (docs/audit.md): one `Checkout` by balance on the real
//! stack (every role a process), then `query::audit::chain` over its correlation id. The chain
//! spans the cart, order, product, payment, customer and checkout streams; every event hangs
//! under the customer's `Checkout` command by a rule its causation id proves, after its parent.

use std::{collections::HashMap, time::Duration};

use aggregates::{
    OrderId,
    checkout::{Phase, notice_command_id},
};
use checkout::testing::{PaymentMethod, Stack, StackOptions};
use event_store::{Direction, StreamId};
use query::audit::{
    self,
    chain::{self, Link},
};
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_purchases_chain_spans_every_service_as_one_tree_in_causal_order() {
    let stack = Stack::start(StackOptions::default()).await;
    let ada = Uuid::new_v4();
    stack.customer(ada, 10_000).await;
    let (tent, sku) = stack.product(1_500, 5).await;
    let version = stack.add_to_cart(ada, tent, sku, 2).await;
    let order = OrderId(Uuid::new_v4());
    stack
        .checkout(ada, order, PaymentMethod::Balance, Some(version))
        .await
        .expect("checkout accepted");
    let state = stack.settled(order, Duration::from_secs(60)).await;
    assert_eq!(state.phase, Phase::Completed, "{state:?}");

    // The customer's Checkout call: the order stream's first event carries its ids.
    let placed = stack
        .store()
        .read_stream(
            &StreamId::parse(format!("order-{}", order.0)).unwrap(),
            Direction::Forward,
            0,
            1,
        )
        .await
        .unwrap()
        .remove(0);
    let correlation = placed.metadata.correlation_id.expect("a correlation id");
    let checkout_command = placed.metadata.command_id.expect("a command id");

    let mut tx = audit::begin(&stack.db.pool).await.unwrap();
    let found = chain::causal_chain(&mut tx, correlation).await.unwrap();
    assert!(!found.truncated);
    let categories: Vec<&str> = found
        .streams
        .iter()
        .map(|stream| stream.split_once('-').unwrap().0)
        .collect();
    for category in [
        "cart", "order", "product", "payment", "customer", "checkout",
    ] {
        assert!(
            categories.contains(&category),
            "{category} missing from {:?}",
            found.streams
        );
    }

    let by_id: HashMap<Uuid, &chain::ChainNode> = found
        .nodes
        .iter()
        .map(|node| (node.event.event_id, node))
        .collect();
    let first_of_command = |command: Option<Uuid>, before: u64| {
        found
            .nodes
            .iter()
            .filter(|node| {
                node.event.metadata.command_id == command && node.event.position < before
            })
            .min_by_key(|node| node.event.position)
    };
    for node in &found.nodes {
        let event = &node.event;
        let what = format!("{}@{} {}", event.stream_id, event.version, event.event_type);
        let Some(parent_id) = node.parent_event_id else {
            assert_eq!(node.link, Link::Root, "{what}");
            assert_eq!(
                event.metadata.command_id,
                Some(checkout_command),
                "{what}: the only root is the customer's Checkout"
            );
            continue;
        };
        let parent = &by_id[&parent_id].event;
        assert!(
            parent.position < event.position,
            "{what}: its parent comes first in the log"
        );
        assert_eq!(by_id[&parent_id].depth + 1, node.depth, "{what}");
        // A command's later events hang where its first one hangs.
        let first = first_of_command(event.metadata.command_id, event.position);
        let cause = match first {
            Some(first) => {
                assert_eq!(
                    (first.parent_event_id, first.link),
                    (node.parent_event_id, node.link),
                    "{what}"
                );
                first.event.metadata.causation_id
            }
            None => event.metadata.causation_id,
        }
        .expect("a causation id");
        match node.link {
            Link::Event => assert_eq!(cause, parent.event_id, "{what}"),
            Link::Noticed => assert_eq!(cause, notice_command_id(parent.event_id), "{what}"),
            Link::Reply => assert_eq!(
                Some(cause),
                parent
                    .metadata
                    .command_id
                    .map(|command| Uuid::new_v5(&command, b"reply")),
                "{what}"
            ),
            Link::Step => assert_eq!(parent.stream_id.category(), "checkout", "{what}"),
            Link::Root => panic!("{what}: a root with a parent"),
        }
    }
    // Depth first: every node's parent is listed before it.
    let mut listed = std::collections::HashSet::new();
    for node in &found.nodes {
        if let Some(parent) = node.parent_event_id {
            assert!(listed.contains(&parent));
        }
        listed.insert(node.event.event_id);
    }
    // Every link kind of a purchase shows up.
    for link in [Link::Noticed, Link::Reply, Link::Step] {
        assert!(
            found.nodes.iter().any(|node| node.link == link),
            "no {link:?} link"
        );
    }
}
