//! The six query services over one shared [`QueryState`]: argument checks, who may read what,
//! the consistency wait, the cache and the read model's reader. The `get_*` queries share one
//! shape, written once in the `lookup` module; the list queries page through a read model.
//!
//! Access: products — any authenticated caller; a customer's profile, cart, orders, payments
//! and checkouts — that customer or an admin (an order, payment or checkout is checked against
//! its owner after it is read: another customer's id answers `PERMISSION_DENIED`, an unknown one
//! `NOT_FOUND`); the stuck checkouts — admins (the `checkouts` module).

use std::{future::Future, str::FromStr, sync::Arc, time::Duration};

use aggregates::{
    Aggregate, Cart, Checkout, Customer, CustomerId, Order, Payment, Product, ProductId,
};
use auth::{Caller, caller};
use event_store::StreamId;
use projections::{
    KeySpace,
    read_models::{catalog, orders, payments},
};
use proto::query::{
    self, cart_queries_server::CartQueries, catalog_queries_server::CatalogQueries,
    customer_queries_server::CustomerQueries, order_queries_server::OrderQueries,
    payment_queries_server::PaymentQueries,
};
use redis::aio::ConnectionManager;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::{
    cache::{CacheMetrics, VersionedCache},
    consistency::{ConsistencyMetrics, Markers, ReadModel, Token},
    convert,
    error::QueryError,
};

mod audit;
mod checkouts;
mod lookup;

/// Page size when a request asks for none.
pub const DEFAULT_PAGE: u32 = 20;
/// Largest page a request may ask for.
pub const MAX_PAGE: u32 = 100;

/// What every query service shares: the stores, the markers and the caches.
pub struct QueryState {
    pool: PgPool,
    redis: ConnectionManager,
    redis_prefix: String,
    markers: Markers,
    wait: Duration,
    products: VersionedCache<query::Product>,
    customers: VersionedCache<query::Customer>,
    carts: VersionedCache<query::Cart>,
    orders: VersionedCache<query::Order>,
    payments: VersionedCache<query::Payment>,
    checkouts: VersionedCache<query::Checkout>,
    stuck_after: Duration,
}

/// Cache sizes and lifetimes, and the consistency wait.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Entries per cache.
    pub cache_capacity: u64,
    /// Time to live of a cached answer.
    pub cache_ttl: Duration,
    /// Longest wait for a consistency token.
    pub consistency_wait: Duration,
    /// How far past its deadline a checkout still driven counts as stuck
    /// (`checkout.stuck_after_secs`).
    pub stuck_after: Duration,
}

impl QueryState {
    /// State over `pool` and `redis` (read models under `redis_prefix`), counting cache
    /// lookups in `metrics` and consistency waits in `consistency`.
    pub fn new(
        pool: PgPool,
        redis: ConnectionManager,
        redis_prefix: String,
        limits: Limits,
        metrics: CacheMetrics,
        consistency: ConsistencyMetrics,
    ) -> Self {
        Self {
            markers: Markers::new(
                pool.clone(),
                redis.clone(),
                redis_prefix.clone(),
                consistency,
            ),
            pool,
            redis,
            redis_prefix,
            wait: limits.consistency_wait,
            products: cache(Product::CATEGORY, limits, &metrics),
            customers: cache(Customer::CATEGORY, limits, &metrics),
            carts: cache(Cart::CATEGORY, limits, &metrics),
            orders: cache(Order::CATEGORY, limits, &metrics),
            payments: cache(Payment::CATEGORY, limits, &metrics),
            checkouts: cache(Checkout::CATEGORY, limits, &metrics),
            stuck_after: limits.stuck_after,
        }
    }

    /// Runs `read` on the keys of `model`'s live generation and answers what it read only if
    /// that generation stayed live throughout (resolved per request: a replay may switch it).
    ///
    /// The epoch key names the live generation (`docs/redis-read-model-loss.md`) and is read in
    /// a command of its own before the data. Redis may lose everything in between (a restart
    /// without persistence): the data read then comes from an empty Redis, and would answer an
    /// empty catalog, NOT_FOUND for what exists, or a half-read entity. So the epoch is read
    /// again after the data, and the read stands only if it is unchanged: a generation's number
    /// is never used twice, and its keys hold it whole while it is live. If it moved (a replay
    /// switched, or the workers rebuilt a lost model), the read is done again on the new one;
    /// if it is gone, the model is UNAVAILABLE until the workers have rebuilt it. Reading
    /// generation 0 without an epoch would be just as wrong, so that is UNAVAILABLE too.
    async fn read_redis<T, F, Fut>(&self, model: ReadModel, read: F) -> Result<T, QueryError>
    where
        F: Fn(KeySpace) -> Fut,
        Fut: Future<Output = Result<T, QueryError>>,
    {
        /// Generations switched under one request before it gives up (each costs a read).
        const SWITCHES: usize = 3;
        let mut epoch = self.epoch(model).await?;
        for _ in 0..SWITCHES {
            let answer = read(projections::runtime::redis_keys(
                &self.redis_prefix,
                model.name(),
                projections::runtime::Epoch::parse(&epoch).generation,
            ))
            .await;
            let now = self.epoch(model).await?;
            if now == epoch {
                return answer;
            }
            epoch = now;
        }
        Err(QueryError::NotBuilt {
            model: model.name(),
        })
    }

    /// The epoch of `model` as stored: `NotBuilt` without one (Redis lost its data, or the
    /// workers have not built it yet).
    async fn epoch(&self, model: ReadModel) -> Result<String, QueryError> {
        let epoch: Option<String> = redis::cmd("GET")
            .arg(projections::runtime::epoch_key(
                &self.redis_prefix,
                model.name(),
            ))
            .query_async(&mut self.redis.clone())
            .await
            .map_err(projections::read_models::ReadError::from)?;
        epoch.ok_or(QueryError::NotBuilt {
            model: model.name(),
        })
    }

    /// Waits for the request's token, if any, on `model`.
    async fn reach(&self, model: ReadModel, token: Option<&Token>) -> Result<(), QueryError> {
        match token {
            Some(token) => self.markers.wait(model, token, self.wait).await,
            None => Ok(()),
        }
    }

    /// One entity of `model` whose own stream is `stream`: waits for the token, answers from
    /// the cache when the entry is new enough, else reads with `load` (which returns the value
    /// and the stream version it includes at least) and caches it.
    async fn entity<V, F, Fut>(
        &self,
        cache: &VersionedCache<V>,
        model: ReadModel,
        stream: &StreamId,
        token: Option<Token>,
        load: F,
    ) -> Result<Arc<V>, QueryError>
    where
        V: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<(V, Option<u64>)>, QueryError>>,
    {
        self.reach(model, token.as_ref()).await?;
        // A token of another stream (a product's, for a cart) says nothing about the entry's
        // own version: read the model afresh.
        let min_version = match &token {
            None => Some(None),
            Some(token) if token.stream == *stream => Some(Some(token.version)),
            Some(_) => None,
        };
        if let Some(min_version) = min_version
            && let Some(hit) = cache.get(stream.as_str(), min_version).await
        {
            return Ok(hit);
        }
        let (value, version) = load()
            .await?
            .ok_or_else(|| QueryError::NotFound(format!("{stream} not found")))?;
        let value = Arc::new(value);
        cache
            .insert(stream.as_str().to_owned(), value.clone(), version)
            .await;
        Ok(value)
    }

    /// The Redis marker of `stream` in the generation `keys` names, read before the data it
    /// vouches for (from the same generation).
    async fn redis_marker(
        &self,
        keys: &KeySpace,
        stream: &StreamId,
    ) -> Result<Option<u64>, QueryError> {
        let version: Option<u64> = redis::cmd("HGET")
            .arg(keys.key("versions"))
            .arg(stream.as_str())
            .query_async(&mut self.redis.clone())
            .await
            .map_err(projections::read_models::ReadError::from)?;
        Ok(version)
    }
}

fn cache<V: Send + Sync + 'static>(
    name: &'static str,
    limits: Limits,
    metrics: &CacheMetrics,
) -> VersionedCache<V> {
    VersionedCache::new(
        name,
        limits.cache_capacity,
        limits.cache_ttl,
        metrics.clone(),
    )
}

fn parse_id<T: FromStr>(what: &str, value: &str) -> Result<T, QueryError> {
    value
        .parse()
        .map_err(|_| QueryError::InvalidArgument(format!("{what} must be a UUID, got {value:?}")))
}

/// The customer `customer_id` names, whose data `who` must be allowed to read (themselves or an
/// admin).
fn own_customer(who: &Caller, customer_id: &str) -> Result<CustomerId, QueryError> {
    let customer_id: CustomerId = parse_id("customer_id", customer_id)?;
    who.require_customer(&customer_id)?;
    Ok(customer_id)
}

fn stream(category: &str, id: impl std::fmt::Display) -> StreamId {
    StreamId::new(category, id).expect("categories are constants and ids are UUIDs")
}

fn page_size(limit: u32) -> Result<u32, QueryError> {
    match limit {
        0 => Ok(DEFAULT_PAGE),
        1..=MAX_PAGE => Ok(limit),
        _ => Err(QueryError::InvalidArgument(format!(
            "limit must be between 1 and {MAX_PAGE}, got {limit}"
        ))),
    }
}

fn cursor<T: FromStr>(cursor: &str) -> Result<Option<T>, QueryError> {
    if cursor.is_empty() {
        return Ok(None);
    }
    cursor
        .parse()
        .map(Some)
        .map_err(|_| QueryError::InvalidArgument(format!("malformed cursor {cursor:?}")))
}

fn next_cursor(next: Option<impl ToString>) -> String {
    next.map(|next| next.to_string()).unwrap_or_default()
}

/// The query services; one value serves all six traits.
#[derive(Clone)]
pub struct QueryServices {
    state: Arc<QueryState>,
}

impl QueryServices {
    /// Services over `state`.
    pub fn new(state: QueryState) -> Self {
        Self {
            state: Arc::new(state),
        }
    }
}

#[tonic::async_trait]
impl CatalogQueries for QueryServices {
    async fn list_products(
        &self,
        request: Request<query::ListProductsRequest>,
    ) -> Result<Response<query::ListProductsResponse>, Status> {
        caller(&request).map_err(QueryError::from)?;
        let request = request.into_inner();
        let limit = page_size(request.limit)?;
        let after: Option<ProductId> = cursor(&request.cursor)?;
        let filter = Some(request.title_prefix.as_str()).filter(|prefix| !prefix.is_empty());
        let token = Token::from_request(request.consistency.as_ref())?;
        let state = &self.state;
        state.reach(ReadModel::Catalog, token.as_ref()).await?;
        let page = state
            .read_redis(ReadModel::Catalog, |keys| async move {
                catalog::list_products(&mut state.redis.clone(), &keys, after, limit, filter)
                    .await
                    .map_err(QueryError::from)
            })
            .await?;
        Ok(Response::new(query::ListProductsResponse {
            products: page.products.iter().map(convert::product).collect(),
            next_cursor: next_cursor(page.next),
        }))
    }

    async fn get_product(
        &self,
        request: Request<query::GetProductRequest>,
    ) -> Result<Response<query::Product>, Status> {
        self.lookup(request).await
    }
}

#[tonic::async_trait]
impl CustomerQueries for QueryServices {
    async fn get_customer(
        &self,
        request: Request<query::GetCustomerRequest>,
    ) -> Result<Response<query::Customer>, Status> {
        self.lookup(request).await
    }
}

#[tonic::async_trait]
impl CartQueries for QueryServices {
    async fn get_cart(
        &self,
        request: Request<query::GetCartRequest>,
    ) -> Result<Response<query::Cart>, Status> {
        self.lookup(request).await
    }
}

#[tonic::async_trait]
impl OrderQueries for QueryServices {
    async fn list_orders(
        &self,
        request: Request<query::ListOrdersRequest>,
    ) -> Result<Response<query::ListOrdersResponse>, Status> {
        let who = caller(&request).map_err(QueryError::from)?.clone();
        let request = request.into_inner();
        let customer_id = own_customer(&who, &request.customer_id)?;
        let limit = page_size(request.limit)?;
        let after: Option<i64> = cursor(&request.cursor)?;
        let status = match request.status.as_str() {
            "" => None,
            name => Some(convert::order_status(name).ok_or_else(|| {
                QueryError::InvalidArgument(format!(
                    "unknown status {name:?}: expected placed, stock_reserved, paid, shipped, \
                     cancelled or refunded"
                ))
            })?),
        };
        let token = Token::from_request(request.consistency.as_ref())?;
        self.state.reach(ReadModel::Orders, token.as_ref()).await?;
        let page = orders::list_for_customer(&self.state.pool, customer_id, status, after, limit)
            .await
            .map_err(QueryError::from)?;
        Ok(Response::new(query::ListOrdersResponse {
            orders: page.orders.iter().map(convert::order).collect(),
            next_cursor: next_cursor(page.next),
        }))
    }

    async fn get_order(
        &self,
        request: Request<query::GetOrderRequest>,
    ) -> Result<Response<query::Order>, Status> {
        self.lookup(request).await
    }
}

#[tonic::async_trait]
impl PaymentQueries for QueryServices {
    async fn list_payments(
        &self,
        request: Request<query::ListPaymentsRequest>,
    ) -> Result<Response<query::ListPaymentsResponse>, Status> {
        let who = caller(&request).map_err(QueryError::from)?.clone();
        let request = request.into_inner();
        let customer_id = own_customer(&who, &request.customer_id)?;
        let limit = page_size(request.limit)?;
        let after: Option<i64> = cursor(&request.cursor)?;
        let token = Token::from_request(request.consistency.as_ref())?;
        self.state
            .reach(ReadModel::Payments, token.as_ref())
            .await?;
        let page = payments::list_for_customer(&self.state.pool, customer_id, after, limit)
            .await
            .map_err(QueryError::from)?;
        Ok(Response::new(query::ListPaymentsResponse {
            payments: page.payments.iter().map(convert::payment).collect(),
            next_cursor: next_cursor(page.next),
        }))
    }

    async fn get_payment(
        &self,
        request: Request<query::GetPaymentRequest>,
    ) -> Result<Response<query::Payment>, Status> {
        self.lookup(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_default_and_are_bounded() {
        assert_eq!(page_size(0).unwrap(), DEFAULT_PAGE);
        assert_eq!(page_size(1).unwrap(), 1);
        assert_eq!(page_size(MAX_PAGE).unwrap(), MAX_PAGE);
        assert!(page_size(MAX_PAGE + 1).is_err());
    }

    #[test]
    fn cursors_are_checked() {
        assert_eq!(cursor::<i64>("").unwrap(), None);
        assert_eq!(cursor::<i64>("42").unwrap(), Some(42));
        assert!(cursor::<i64>("4x2").is_err());
        assert!(cursor::<ProductId>("nope").is_err());
    }
}
