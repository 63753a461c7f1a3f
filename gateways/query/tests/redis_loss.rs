//! A Redis read model lost while it is read (a restart without persistence) and rebuilt by the
//! workers, again and again: every answer is the whole model or `UNAVAILABLE`, never an empty or
//! partial one (docs/redis-read-model-loss.md).

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};
use std::time::Duration;

use ::query::testing::{World, admin, authed};
use proto::query::{self, catalog_queries_client::CatalogQueriesClient};
use tokio::time::Instant;
use tonic::Code;

/// How long Redis keeps losing the catalog while the readers read.
const FLIPPING: Duration = Duration::from_secs(3);
/// Readers at once.
const READERS: usize = 4;

/// It failed before: a read that resolved the catalog's live generation (its epoch key) just
/// before Redis lost it read that generation's keys just after, from an empty Redis, and
/// answered 200 with no products — the fault suite's "Redis restart, empty" saw it under load.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_across_a_redis_loss_is_unavailable_never_empty() {
    let mut world = World::start(Duration::from_secs(2)).await;
    let token = admin();
    let list = query::ListProductsRequest {
        limit: 100,
        ..Default::default()
    };
    let mut catalog = CatalogQueriesClient::new(world.channel.clone());
    let whole: Vec<String> = catalog
        .list_products(authed(&token, list.clone()))
        .await
        .expect("the catalog before any loss")
        .into_inner()
        .products
        .into_iter()
        .map(|product| product.product_id)
        .collect();
    assert!(!whole.is_empty(), "the story has products");

    let stop = Arc::new(AtomicBool::new(false));
    let whole_answers = Arc::new(AtomicUsize::new(0));
    let unavailable = Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (stop, whole_answers, unavailable) = (
                Arc::clone(&stop),
                Arc::clone(&whole_answers),
                Arc::clone(&unavailable),
            );
            let (mut catalog, token, list, whole) =
                (catalog.clone(), token.clone(), list.clone(), whole.clone());
            tokio::spawn(async move {
                let mut wrong = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    match catalog.list_products(authed(&token, list.clone())).await {
                        Ok(answer) => {
                            let ids: Vec<String> = answer
                                .into_inner()
                                .products
                                .into_iter()
                                .map(|product| product.product_id)
                                .collect();
                            if ids == whole {
                                whole_answers.fetch_add(1, Ordering::Relaxed);
                            } else {
                                wrong.push(format!("{} of {} products", ids.len(), whole.len()));
                            }
                        }
                        Err(status) if status.code() == Code::Unavailable => {
                            unavailable.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(status) => wrong.push(format!("{status:?}")),
                    }
                }
                wrong
            })
        })
        .collect();

    // Redis loses the catalog; the workers see it and rebuild it (as `ensure_built` does at a
    // worker's start and on a batch refused for a missing epoch); again until the time is up.
    let catalog_model = projections::read_models::all()
        .into_iter()
        .find(|projection| projection.name() == "catalog")
        .expect("the catalog model");
    let until = Instant::now() + FLIPPING;
    let mut losses = 0;
    while Instant::now() < until {
        world.redis.lose("catalog").await;
        losses += 1;
        world
            .runtime
            .ensure_built(&catalog_model)
            .await
            .expect("rebuilt");
    }
    stop.store(true, Ordering::Relaxed);
    let mut wrong = Vec::new();
    for reader in readers {
        wrong.extend(reader.await.expect("reader"));
    }
    let (whole_answers, unavailable) = (
        whole_answers.load(Ordering::Relaxed),
        unavailable.load(Ordering::Relaxed),
    );
    eprintln!(
        "{losses} losses; answers: {whole_answers} whole, {unavailable} unavailable, {} wrong",
        wrong.len()
    );
    assert!(
        wrong.is_empty(),
        "{} wrong answers of {} (first: {:?})",
        wrong.len(),
        wrong.len() + whole_answers + unavailable,
        wrong.first()
    );
    assert!(
        whole_answers > 0 && unavailable > 0,
        "the readers read both between losses and during rebuilds"
    );
}
