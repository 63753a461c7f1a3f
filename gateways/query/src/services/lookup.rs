//! The `get_*` queries: one entity of a read model by the id its request names. Their common
//! shape is written once, in [`QueryServices::lookup`]; each request type declares in its
//! [`Lookup`] implementation only what differs — who may ask, which read model, cache and
//! stream, how to read and convert the entity, and whose it is.

use std::fmt::Display;

use aggregates::{Aggregate, CustomerId, OrderId, PaymentId, ProductId};
use auth::{Caller, caller};
use event_store::StreamId;
use projections::read_models::{cart_view, catalog, checkouts, customers, orders, payments};
use proto::query;
use tonic::{Request, Response, Status};

use super::{QueryServices, QueryState, own_customer, parse_id, stream};
use crate::{
    cache::VersionedCache,
    consistency::{ReadModel, Token},
    convert,
    error::QueryError,
};

/// A request for one entity, and what its query needs to know of that entity.
pub(super) trait Lookup: Sized {
    /// The answer: the entity as a message.
    type Answer: Clone + Send + Sync + 'static;
    /// The entity's id.
    type Id: Copy + Display;
    /// The read model that answers.
    const MODEL: ReadModel;
    /// The category of the entity's own stream (`<category>-<id>`).
    const CATEGORY: &'static str;

    /// The id the request names, once `who` may ask for it (a check that needs the entity
    /// itself is [`owner`](Self::owner)'s).
    fn id(&self, who: &Caller) -> Result<Self::Id, QueryError>;

    /// The request's consistency token, if any.
    fn consistency(&self) -> Option<&query::ConsistencyToken>;

    /// The cache of answers.
    fn cache(state: &QueryState) -> &VersionedCache<Self::Answer>;

    /// Reads the entity from the read model: the answer and the stream version it includes at
    /// least, or `None` for an unknown id.
    async fn load(
        state: &QueryState,
        id: Self::Id,
        stream: &StreamId,
    ) -> Result<Option<(Self::Answer, Option<u64>)>, QueryError>;

    /// The customer the answer belongs to, when only they (or an admin) may read it: checked
    /// after reading, so another customer's id answers `PERMISSION_DENIED`, an unknown one
    /// `NOT_FOUND`.
    fn owner(_answer: &Self::Answer) -> Option<&str> {
        None
    }
}

impl QueryServices {
    /// Answers a `get_*` query: authenticates, reads the id (checking who may ask), answers
    /// through [`QueryState::entity`] (consistency wait, cache, read model), then checks the
    /// answer's owner.
    pub(super) async fn lookup<L: Lookup>(
        &self,
        request: Request<L>,
    ) -> Result<Response<L::Answer>, Status> {
        let who = caller(&request).map_err(QueryError::from)?.clone();
        let request = request.into_inner();
        let id = request.id(&who)?;
        let token = Token::from_request(request.consistency())?;
        let state = &self.state;
        let stream = stream(L::CATEGORY, id);
        let answer = state
            .entity(L::cache(state), L::MODEL, &stream, token, || {
                L::load(state, id, &stream)
            })
            .await?;
        if let Some(owner) = L::owner(&answer) {
            who.require_customer(&owner).map_err(QueryError::from)?;
        }
        Ok(Response::new(answer.as_ref().clone()))
    }
}

impl Lookup for query::GetProductRequest {
    type Answer = query::Product;
    type Id = ProductId;
    const MODEL: ReadModel = ReadModel::Catalog;
    const CATEGORY: &'static str = aggregates::Product::CATEGORY;

    fn id(&self, _who: &Caller) -> Result<ProductId, QueryError> {
        parse_id("product_id", &self.product_id)
    }

    fn consistency(&self) -> Option<&query::ConsistencyToken> {
        self.consistency.as_ref()
    }

    fn cache(state: &QueryState) -> &VersionedCache<query::Product> {
        &state.products
    }

    async fn load(
        state: &QueryState,
        id: ProductId,
        stream: &StreamId,
    ) -> Result<Option<(query::Product, Option<u64>)>, QueryError> {
        state
            .read_redis(Self::MODEL, |keys| async move {
                let version = state.redis_marker(&keys, stream).await?;
                let view = catalog::get_product(&mut state.redis.clone(), &keys, id).await?;
                Ok(view.map(|view| (convert::product(&view), version)))
            })
            .await
    }
}

impl Lookup for query::GetCustomerRequest {
    type Answer = query::Customer;
    type Id = CustomerId;
    const MODEL: ReadModel = ReadModel::Customers;
    const CATEGORY: &'static str = aggregates::Customer::CATEGORY;

    fn id(&self, who: &Caller) -> Result<CustomerId, QueryError> {
        own_customer(who, &self.customer_id)
    }

    fn consistency(&self) -> Option<&query::ConsistencyToken> {
        self.consistency.as_ref()
    }

    fn cache(state: &QueryState) -> &VersionedCache<query::Customer> {
        &state.customers
    }

    async fn load(
        state: &QueryState,
        id: CustomerId,
        _stream: &StreamId,
    ) -> Result<Option<(query::Customer, Option<u64>)>, QueryError> {
        let view = customers::get(&state.pool, id).await?;
        Ok(view.map(|view| (convert::customer(&view), Some(view.stream_version))))
    }
}

impl Lookup for query::GetCartRequest {
    type Answer = query::Cart;
    type Id = CustomerId;
    const MODEL: ReadModel = ReadModel::CartView;
    const CATEGORY: &'static str = aggregates::Cart::CATEGORY;

    fn id(&self, who: &Caller) -> Result<CustomerId, QueryError> {
        own_customer(who, &self.customer_id)
    }

    fn consistency(&self) -> Option<&query::ConsistencyToken> {
        self.consistency.as_ref()
    }

    fn cache(state: &QueryState) -> &VersionedCache<query::Cart> {
        &state.carts
    }

    async fn load(
        state: &QueryState,
        id: CustomerId,
        stream: &StreamId,
    ) -> Result<Option<(query::Cart, Option<u64>)>, QueryError> {
        state
            .read_redis(Self::MODEL, |keys| async move {
                let version = state.redis_marker(&keys, stream).await?;
                let view = cart_view::load(&mut state.redis.clone(), &keys, id).await?;
                // A customer without a cart has an empty one.
                Ok(Some((convert::cart(&view), version)))
            })
            .await
    }
}

impl Lookup for query::GetOrderRequest {
    type Answer = query::Order;
    type Id = OrderId;
    const MODEL: ReadModel = ReadModel::Orders;
    const CATEGORY: &'static str = aggregates::Order::CATEGORY;

    fn id(&self, _who: &Caller) -> Result<OrderId, QueryError> {
        parse_id("order_id", &self.order_id)
    }

    fn consistency(&self) -> Option<&query::ConsistencyToken> {
        self.consistency.as_ref()
    }

    fn cache(state: &QueryState) -> &VersionedCache<query::Order> {
        &state.orders
    }

    async fn load(
        state: &QueryState,
        id: OrderId,
        _stream: &StreamId,
    ) -> Result<Option<(query::Order, Option<u64>)>, QueryError> {
        let view = orders::get(&state.pool, id).await?;
        Ok(view.map(|view| (convert::order(&view), Some(view.stream_version))))
    }

    fn owner(order: &query::Order) -> Option<&str> {
        Some(&order.customer_id)
    }
}

impl Lookup for query::GetPaymentRequest {
    type Answer = query::Payment;
    type Id = PaymentId;
    const MODEL: ReadModel = ReadModel::Payments;
    const CATEGORY: &'static str = aggregates::Payment::CATEGORY;

    fn id(&self, _who: &Caller) -> Result<PaymentId, QueryError> {
        parse_id("payment_id", &self.payment_id)
    }

    fn consistency(&self) -> Option<&query::ConsistencyToken> {
        self.consistency.as_ref()
    }

    fn cache(state: &QueryState) -> &VersionedCache<query::Payment> {
        &state.payments
    }

    async fn load(
        state: &QueryState,
        id: PaymentId,
        _stream: &StreamId,
    ) -> Result<Option<(query::Payment, Option<u64>)>, QueryError> {
        let view = payments::get(&state.pool, id).await?;
        Ok(view.map(|view| (convert::payment(&view), Some(view.stream_version))))
    }

    fn owner(payment: &query::Payment) -> Option<&str> {
        Some(&payment.customer_id)
    }
}

impl Lookup for query::GetCheckoutRequest {
    type Answer = query::Checkout;
    type Id = OrderId;
    const MODEL: ReadModel = ReadModel::Checkouts;
    const CATEGORY: &'static str = aggregates::Checkout::CATEGORY;

    fn id(&self, _who: &Caller) -> Result<OrderId, QueryError> {
        parse_id("order_id", &self.order_id)
    }

    fn consistency(&self) -> Option<&query::ConsistencyToken> {
        self.consistency.as_ref()
    }

    fn cache(state: &QueryState) -> &VersionedCache<query::Checkout> {
        &state.checkouts
    }

    async fn load(
        state: &QueryState,
        id: OrderId,
        _stream: &StreamId,
    ) -> Result<Option<(query::Checkout, Option<u64>)>, QueryError> {
        let view = checkouts::get(&state.pool, id).await?;
        Ok(view.map(|view| (convert::checkout(&view), Some(view.stream_version))))
    }

    fn owner(checkout: &query::Checkout) -> Option<&str> {
        Some(&checkout.customer_id)
    }
}
