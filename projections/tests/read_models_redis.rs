//! The Redis read models (cart view, catalog) fed the checkout story straight from a real log,
//! without the runtime, and read back through their readers.

use aggregates::ProductId;
use event_store::RecordedEvent;
use projections::testing::{
    RedisSpace, all_events, database,
    story::{self, Story, eur},
    t,
};
use projections::{
    RedisProjection,
    read_models::{
        cart_view::{self, CartView, CartViewProjection, LineProblem},
        catalog::{self, Catalog, SaleStatus},
    },
};

fn problems(cart: &CartView) -> Vec<(aggregates::SkuId, u32, Option<LineProblem>)> {
    cart.lines
        .iter()
        .map(|line| (line.sku_id, line.quantity, line.problem))
        .collect()
}

/// Applies the events up to `upto` not applied yet and loads Alice's cart.
async fn advance(
    redis: &mut RedisSpace,
    events: &[RecordedEvent],
    applied: &mut usize,
    upto: usize,
    s: &Story,
) -> CartView {
    redis
        .apply(&CartViewProjection, &events[*applied..upto])
        .await;
    *applied = upto;
    let keys = redis.keys(&CartViewProjection);
    cart_view::load(&mut redis.conn, &keys, s.alice)
        .await
        .unwrap()
}

#[tokio::test]
async fn cart_view_shows_lines_totals_and_validity_from_its_private_sku_copy() {
    let (_db, mut log) = database().await;
    let s: Story = story::write(&mut log).await;
    let events = all_events(&log.store).await;
    let mut redis = RedisSpace::new().await;
    let keys = redis.keys(&CartViewProjection);
    let mut applied = 0;

    // Lines in the order first added; the jacket was removed; all in stock and on sale.
    let cart = advance(
        &mut redis,
        &events,
        &mut applied,
        s.marks["cart_filled"],
        &s,
    )
    .await;
    assert_eq!(
        problems(&cart),
        [(s.s1, 3, None), (s.s2, 1, None), (s.s4, 1, None)]
    );
    let first = &cart.lines[0];
    assert_eq!(
        (
            first.product_id,
            first.title.as_str(),
            first.unit_price,
            first.line_total
        ),
        (s.shoe, "Trail Shoe 42", eur(4_999), eur(14_997))
    );
    assert_eq!(first.available, Some(10));
    assert_eq!(cart.total, Some(eur(14_997 + 5_499 + 19_900)));
    assert!(cart.valid);
    assert_eq!(cart.updated_at, Some(t(10)));

    // The tent is withdrawn from sale.
    let cart = advance(
        &mut redis,
        &events,
        &mut applied,
        s.marks["tent_discontinued"],
        &s,
    )
    .await;
    assert_eq!(cart.lines[2].problem, Some(LineProblem::NotSold));
    assert!(!cart.lines[2].valid && !cart.valid);

    // Order 2 reserves the last two shoes of size 43: the cart's line runs short.
    advance(&mut redis, &events, &mut applied, s.marks["o1_shipped"], &s).await;
    let cart = advance(
        &mut redis,
        &events,
        &mut applied,
        s.marks["o2_reserved"],
        &s,
    )
    .await;
    let short = Some(LineProblem::InsufficientStock { available: 0 });
    assert_eq!(problems(&cart)[1], (s.s2, 1, short));
    assert!(!cart.lines[1].valid);
    assert_eq!(cart.lines[0].available, Some(8));

    // Released again when order 2 is cancelled.
    let cart = advance(
        &mut redis,
        &events,
        &mut applied,
        s.marks["o2_cancelled"],
        &s,
    )
    .await;
    assert_eq!(
        (cart.lines[1].valid, cart.lines[1].available),
        (true, Some(2))
    );
    assert_eq!(cart.total, Some(eur(14_997 + 5_499 + 19_900)));

    // Other customers have empty carts; a product event with no cart changes no cart.
    let bob = cart_view::load(&mut redis.conn, &keys, s.bob)
        .await
        .unwrap();
    assert_eq!((bob.lines.len(), bob.total, bob.valid), (0, None, true));
    redis.cleanup();
}

#[tokio::test]
async fn cart_view_empties_a_cleared_cart_and_forgets_removed_lines() {
    use aggregates::{Cart, cart::CartCommand};
    let (_db, mut log) = database().await;
    let s = story::write(&mut log).await;
    let mut cart = projections::testing::Stream::<Cart>::new(&s.bob);
    let add = CartCommand::AddItem {
        customer_id: s.bob,
        product_id: s.shoe,
        sku_id: s.s1,
        quantity: 1,
        title: "Trail Shoe 42".to_owned(),
        unit_price: eur(4_999),
        sku_active: true,
        available_stock: 8,
        at: t(60),
    };
    cart.run(&mut log, add).await;
    let mut redis = RedisSpace::new().await;
    let keys = redis.keys(&CartViewProjection);
    redis
        .apply(&CartViewProjection, &all_events(&log.store).await)
        .await;
    let bob = cart_view::load(&mut redis.conn, &keys, s.bob)
        .await
        .unwrap();
    assert_eq!(problems(&bob), [(s.s1, 1, None)]);

    let clear = CartCommand::Clear {
        customer_id: s.bob,
        at: t(61),
    };
    cart.run(&mut log, clear).await;
    let events = all_events(&log.store).await;
    redis
        .apply(&CartViewProjection, &events[events.len() - 1..])
        .await;
    let bob = cart_view::load(&mut redis.conn, &keys, s.bob)
        .await
        .unwrap();
    assert_eq!(
        (bob.lines.len(), bob.total, bob.updated_at),
        (0, None, Some(t(61)))
    );
    redis.cleanup();
}

#[tokio::test]
async fn catalog_lists_products_by_title_with_paging_and_a_prefix_filter() {
    let (_db, mut log) = database().await;
    let s = story::write(&mut log).await;
    let events = all_events(&log.store).await;
    let mut redis = RedisSpace::new().await;
    let keys = redis.keys(&Catalog);
    redis.apply(&Catalog, &events).await;
    let conn = &mut redis.conn;

    let shoe = catalog::get_product(conn, &keys, s.shoe)
        .await
        .unwrap()
        .expect("shoe");
    assert_eq!(
        (shoe.title.as_str(), shoe.status),
        ("Trail Shoe", SaleStatus::Active)
    );
    assert_eq!(shoe.created_at, t(1));
    let skus: Vec<_> = shoe
        .skus
        .iter()
        .map(|k| {
            (
                k.sku_id,
                k.price,
                k.on_hand,
                k.reserved,
                k.available,
                k.status,
            )
        })
        .collect();
    let active = SaleStatus::Active;
    assert_eq!(
        skus,
        [
            (s.s1, eur(4_999), 8, 0, 8, active),
            (s.s2, eur(5_499), 2, 0, 2, active)
        ]
    );
    assert_eq!(shoe.skus[1].attributes["size"], "43");
    let tent = catalog::get_product(conn, &keys, s.tent)
        .await
        .unwrap()
        .expect("tent");
    assert_eq!(tent.status, SaleStatus::Discontinued);
    assert_eq!(tent.skus[0].status, SaleStatus::Discontinued);
    assert_eq!(tent.updated_at, t(13));
    let jacket = catalog::get_product(conn, &keys, s.jacket)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((jacket.skus[0].on_hand, jacket.skus[0].available), (5, 5));
    let unknown = ProductId(uuid::Uuid::new_v4());
    assert_eq!(
        catalog::get_product(conn, &keys, unknown).await.unwrap(),
        None
    );

    // By lowercased title: alpine tent, rain hat, rain jacket, trail shoe, trail vest.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = catalog::list_products(conn, &keys, after, 2, None)
            .await
            .unwrap();
        seen.extend(page.products.iter().map(|p| p.product_id));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, [s.tent, s.hat, s.jacket, s.shoe, s.vest]);

    let rain = catalog::list_products(conn, &keys, None, 10, Some("RAIN"))
        .await
        .unwrap();
    let ids: Vec<_> = rain.products.iter().map(|p| p.product_id).collect();
    assert_eq!((ids, rain.next), (vec![s.hat, s.jacket], None));
    let trail = catalog::list_products(conn, &keys, None, 1, Some("trail"))
        .await
        .unwrap();
    assert_eq!(trail.products[0].product_id, s.shoe);
    let rest = catalog::list_products(conn, &keys, trail.next, 5, Some("trail")).await;
    let ids: Vec<_> = rest
        .unwrap()
        .products
        .iter()
        .map(|p| p.product_id)
        .collect();
    assert_eq!(ids, [s.vest]);
    let nothing = catalog::list_products(conn, &keys, None, 5, Some("zzz"))
        .await
        .unwrap();
    assert!(nothing.products.is_empty());
    redis.cleanup();
}

#[tokio::test]
async fn redis_read_models_rebuilt_from_the_log_equal_the_live_ones() {
    let (_db, mut log) = database().await;
    let s = story::write(&mut log).await;
    let events = all_events(&log.store).await;
    let mut live = RedisSpace::new().await;
    let mut rebuilt = RedisSpace::new().await;
    let models: [&dyn RedisProjection; 2] = [&Catalog, &CartViewProjection];
    for model in models {
        live.apply(model, &events).await;
        rebuilt.apply(model, &events).await;
    }
    let snapshot = live.snapshot().await;
    assert!(snapshot.len() > 10, "the story fills both models");
    assert_eq!(snapshot, rebuilt.snapshot().await);
    for space in [&mut live, &mut rebuilt] {
        let keys = space.keys(&CartViewProjection);
        let cart = cart_view::load(&mut space.conn, &keys, s.alice)
            .await
            .unwrap();
        assert_eq!(cart.lines.len(), 3);
    }
    let (cart_keys, catalog_keys) = (live.keys(&CartViewProjection), live.keys(&Catalog));
    let a = cart_view::load(&mut live.conn, &cart_keys, s.alice)
        .await
        .unwrap();
    let b_keys = rebuilt.keys(&CartViewProjection);
    let b = cart_view::load(&mut rebuilt.conn, &b_keys, s.alice).await;
    assert_eq!(a, b.unwrap());
    let a = catalog::list_products(&mut live.conn, &catalog_keys, None, 10, None)
        .await
        .unwrap();
    let b_keys = rebuilt.keys(&Catalog);
    let b = catalog::list_products(&mut rebuilt.conn, &b_keys, None, 10, None)
        .await
        .unwrap();
    assert_eq!(a, b);
    live.cleanup();
    rebuilt.cleanup();
}

#[test]
fn redis_read_models_reject_undecodable_events_and_ignore_other_types() {
    use event_store::{EventMetadata, StreamId};
    use projections::{KeySpace, ProjectionError};
    let event = |stream: &str, event_type: &str, data| RecordedEvent {
        position: 9,
        tx_id: 1,
        stream_id: StreamId::parse(stream).unwrap(),
        version: 0,
        event_id: uuid::Uuid::new_v4(),
        event_type: event_type.to_owned(),
        schema_version: 1,
        data,
        metadata: EventMetadata::default(),
        recorded_at: t(0),
    };
    let keys = KeySpace::new("unit", "any");
    let product = format!("product-{}", uuid::Uuid::new_v4());
    let garbled = event(&product, "SkuRestocked", serde_json::json!({"sku_id": "x"}));
    let other = event(&product, "ProductRenamed", serde_json::json!({}));
    let models: [&dyn RedisProjection; 2] = [&Catalog, &CartViewProjection];
    for model in models {
        let err = model.writes(&keys, &garbled).unwrap_err();
        assert!(matches!(err, ProjectionError::Decode { .. }), "{err}");
        assert_eq!(model.writes(&keys, &other).unwrap(), []);
    }
}
