//! An in-process stand-in for the query service: the six generated query traits over canned
//! data, behind the real bearer-token interceptor, plus the standard health service.
//!
//! It behaves as the contract says the real one does where the gateway depends on it —
//! PERMISSION_DENIED for another customer's data, NOT_FOUND for unknown ids, INVALID_ARGUMENT
//! for an unknown cursor, UNAVAILABLE with `x-error-reason: not_yet_consistent` for a
//! consistency token of version [`UNREACHED_VERSION`] — and records every request it received
//! ([`Seen`]) so tests can check what the gateway passed on.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use auth::{AuthConfig, Authenticator, Caller};
use proto::query::{
    Cart, Checkout, ConsistencyToken, Customer, GetCartRequest, GetCheckoutRequest,
    GetCustomerRequest, GetOrderRequest, GetPaymentRequest, GetProductRequest, ListOrdersRequest,
    ListOrdersResponse, ListPaymentsRequest, ListPaymentsResponse, ListProductsRequest,
    ListProductsResponse, ListStuckCheckoutsRequest, ListStuckCheckoutsResponse, Order, Payment,
    Product,
    cart_queries_server::{CartQueries, CartQueriesServer},
    catalog_queries_server::{CatalogQueries, CatalogQueriesServer},
    checkout_queries_server::{CheckoutQueries, CheckoutQueriesServer},
    customer_queries_server::{CustomerQueries, CustomerQueriesServer},
    order_queries_server::{OrderQueries, OrderQueriesServer},
    payment_queries_server::{PaymentQueries, PaymentQueriesServer},
};
use tokio::{net::TcpListener, sync::oneshot};
use tonic::{
    Request, Response, Status,
    service::interceptor::InterceptedService,
    transport::{Server, server::TcpIncoming},
};

use crate::canned::*;

/// One request the fake received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// The RPC, e.g. `ListOrders`.
    pub rpc: &'static str,
    /// The `authorization` metadata.
    pub authorization: Option<String>,
    /// The `x-request-id` metadata.
    pub request_id: Option<String>,
    /// Whether the call carried a deadline (`grpc-timeout`).
    pub has_deadline: bool,
    /// The message's consistency token.
    pub consistency: Option<ConsistencyToken>,
    /// The message's id field (product, customer, order or payment id).
    pub id: String,
    /// Paging and filters, where the message has them.
    pub limit: u32,
    pub cursor: String,
    pub status: String,
    pub title_prefix: String,
}

/// The fake's record of what it received.
#[derive(Debug, Default)]
pub struct Received(Mutex<Vec<Seen>>);

impl Received {
    /// Everything received so far.
    pub fn all(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }

    /// The only request received; panics if there were none or several.
    pub fn only(&self) -> Seen {
        let all = self.all();
        assert_eq!(all.len(), 1, "expected exactly one gRPC call, got {all:#?}");
        all.into_iter().next().unwrap()
    }

    fn push(&self, seen: Seen) {
        self.0.lock().unwrap().push(seen);
    }
}

/// A running fake; stops when dropped.
pub struct FakeQueryService {
    /// Where it listens.
    pub address: SocketAddr,
    /// What it received.
    pub received: Arc<Received>,
    _stop: oneshot::Sender<()>,
}

impl FakeQueryService {
    /// Starts a fake on a free port of 127.0.0.1, checking tokens with `auth`.
    pub async fn start(auth: &AuthConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let received = Arc::new(Received::default());
        let fake = Fake {
            received: received.clone(),
        };
        let interceptor = Authenticator::new(auth);
        let (_health, health_service) = tonic_health::server::health_reporter();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = Server::builder()
            .add_service(health_service)
            .add_service(InterceptedService::new(
                CatalogQueriesServer::new(fake.clone()),
                interceptor.clone(),
            ))
            .add_service(InterceptedService::new(
                CustomerQueriesServer::new(fake.clone()),
                interceptor.clone(),
            ))
            .add_service(InterceptedService::new(
                CartQueriesServer::new(fake.clone()),
                interceptor.clone(),
            ))
            .add_service(InterceptedService::new(
                OrderQueriesServer::new(fake.clone()),
                interceptor.clone(),
            ))
            .add_service(InterceptedService::new(
                PaymentQueriesServer::new(fake.clone()),
                interceptor.clone(),
            ))
            .add_service(InterceptedService::new(
                CheckoutQueriesServer::new(fake),
                interceptor,
            ));
        tokio::spawn(async move {
            server
                .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
                    stopped.await.ok();
                })
                .await
                .unwrap();
        });
        Self {
            address,
            received,
            _stop: stop,
        }
    }

    /// Its endpoint URL.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }
}

#[derive(Clone)]
struct Fake {
    received: Arc<Received>,
}

impl Fake {
    /// Records `request` as `seen` (filled in with its metadata), then checks its consistency
    /// token, and returns the caller.
    fn receive<T>(
        &self,
        rpc: &'static str,
        request: &Request<T>,
        seen: Seen,
    ) -> Result<Caller, Status> {
        let text = |key: &str| {
            request
                .metadata()
                .get(key)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let seen = Seen {
            rpc,
            authorization: text("authorization"),
            request_id: text("x-request-id"),
            has_deadline: request.metadata().get("grpc-timeout").is_some(),
            ..seen
        };
        let consistency = seen.consistency.clone();
        self.received.push(seen);
        if consistency.is_some_and(|token| token.version == UNREACHED_VERSION) {
            let mut status = Status::unavailable(
                "not_yet_consistent: read model has not applied the version after 2s",
            );
            status
                .metadata_mut()
                .insert("x-error-reason", "not_yet_consistent".parse().unwrap());
            return Err(status);
        }
        Ok(auth::caller(request)?.clone())
    }
}

fn check_cursor(cursor: &str) -> Result<(), Status> {
    if cursor == BAD_CURSOR {
        Err(Status::invalid_argument(format!(
            "unknown cursor {cursor:?}"
        )))
    } else {
        Ok(())
    }
}

#[tonic::async_trait]
impl CatalogQueries for Fake {
    async fn list_products(
        &self,
        request: Request<ListProductsRequest>,
    ) -> Result<Response<ListProductsResponse>, Status> {
        let message = request.get_ref().clone();
        self.receive(
            "ListProducts",
            &request,
            Seen {
                consistency: message.consistency.clone(),
                limit: message.limit,
                cursor: message.cursor.clone(),
                title_prefix: message.title_prefix.clone(),
                ..Seen::default()
            },
        )?;
        check_cursor(&message.cursor)?;
        let products = [product()]
            .into_iter()
            .filter(|p| {
                p.title
                    .to_lowercase()
                    .starts_with(&message.title_prefix.to_lowercase())
            })
            .collect();
        Ok(Response::new(ListProductsResponse {
            products,
            next_cursor: "page-2".into(),
        }))
    }

    async fn get_product(
        &self,
        request: Request<GetProductRequest>,
    ) -> Result<Response<Product>, Status> {
        let message = request.get_ref().clone();
        self.receive(
            "GetProduct",
            &request,
            Seen {
                consistency: message.consistency.clone(),
                id: message.product_id.clone(),
                ..Seen::default()
            },
        )?;
        match message.product_id.as_str() {
            PRODUCT => Ok(Response::new(product())),
            BROKEN_PRODUCT => Err(Status::internal(INTERNAL_DETAIL)),
            SLOW_PRODUCT => {
                tokio::time::sleep(SLOW_DELAY).await;
                Ok(Response::new(product()))
            }
            other => Err(Status::not_found(format!("no product {other}"))),
        }
    }
}

#[tonic::async_trait]
impl CustomerQueries for Fake {
    async fn get_customer(
        &self,
        request: Request<GetCustomerRequest>,
    ) -> Result<Response<Customer>, Status> {
        let message = request.get_ref().clone();
        let caller = self.receive(
            "GetCustomer",
            &request,
            Seen {
                consistency: message.consistency.clone(),
                id: message.customer_id.clone(),
                ..Seen::default()
            },
        )?;
        caller.require_customer(&message.customer_id)?;
        match message.customer_id.as_str() {
            id @ (CUSTOMER_A | CUSTOMER_B) => Ok(Response::new(customer(id))),
            other => Err(Status::not_found(format!("no customer {other}"))),
        }
    }
}

#[tonic::async_trait]
impl CartQueries for Fake {
    async fn get_cart(&self, request: Request<GetCartRequest>) -> Result<Response<Cart>, Status> {
        let message = request.get_ref().clone();
        let caller = self.receive(
            "GetCart",
            &request,
            Seen {
                consistency: message.consistency.clone(),
                id: message.customer_id.clone(),
                ..Seen::default()
            },
        )?;
        caller.require_customer(&message.customer_id)?;
        if message.customer_id != CUSTOMER_A {
            return Err(Status::not_found(format!(
                "no customer {}",
                message.customer_id
            )));
        }
        Ok(Response::new(cart()))
    }
}

#[tonic::async_trait]
impl OrderQueries for Fake {
    async fn list_orders(
        &self,
        request: Request<ListOrdersRequest>,
    ) -> Result<Response<ListOrdersResponse>, Status> {
        let message = request.get_ref().clone();
        let caller = self.receive(
            "ListOrders",
            &request,
            Seen {
                consistency: message.consistency.clone(),
                id: message.customer_id.clone(),
                limit: message.limit,
                cursor: message.cursor.clone(),
                status: message.status.clone(),
                ..Seen::default()
            },
        )?;
        caller.require_customer(&message.customer_id)?;
        check_cursor(&message.cursor)?;
        let orders = orders()
            .into_iter()
            .filter(|o| o.customer_id == message.customer_id)
            .filter(|o| message.status.is_empty() || o.status == message.status)
            .collect();
        Ok(Response::new(ListOrdersResponse {
            orders,
            next_cursor: String::new(),
        }))
    }

    async fn get_order(
        &self,
        request: Request<GetOrderRequest>,
    ) -> Result<Response<Order>, Status> {
        let message = request.get_ref().clone();
        let caller = self.receive(
            "GetOrder",
            &request,
            Seen {
                consistency: message.consistency.clone(),
                id: message.order_id.clone(),
                ..Seen::default()
            },
        )?;
        let order = orders()
            .into_iter()
            .find(|o| o.order_id == message.order_id)
            .ok_or_else(|| Status::not_found(format!("no order {}", message.order_id)))?;
        caller.require_customer(&order.customer_id)?;
        Ok(Response::new(order))
    }
}

#[tonic::async_trait]
impl PaymentQueries for Fake {
    async fn list_payments(
        &self,
        request: Request<ListPaymentsRequest>,
    ) -> Result<Response<ListPaymentsResponse>, Status> {
        let message = request.get_ref().clone();
        let caller = self.receive(
            "ListPayments",
            &request,
            Seen {
                consistency: message.consistency.clone(),
                id: message.customer_id.clone(),
                limit: message.limit,
                cursor: message.cursor.clone(),
                ..Seen::default()
            },
        )?;
        caller.require_customer(&message.customer_id)?;
        check_cursor(&message.cursor)?;
        let payments = payments()
            .into_iter()
            .filter(|p| p.customer_id == message.customer_id)
            .collect();
        Ok(Response::new(ListPaymentsResponse {
            payments,
            next_cursor: String::new(),
        }))
    }

    async fn get_payment(
        &self,
        request: Request<GetPaymentRequest>,
    ) -> Result<Response<Payment>, Status> {
        let message = request.get_ref().clone();
        let caller = self.receive(
            "GetPayment",
            &request,
            Seen {
                consistency: message.consistency.clone(),
                id: message.payment_id.clone(),
                ..Seen::default()
            },
        )?;
        let payment = payments()
            .into_iter()
            .find(|p| p.payment_id == message.payment_id)
            .ok_or_else(|| Status::not_found(format!("no payment {}", message.payment_id)))?;
        caller.require_customer(&payment.customer_id)?;
        Ok(Response::new(payment))
    }
}

#[tonic::async_trait]
impl CheckoutQueries for Fake {
    async fn get_checkout(
        &self,
        request: Request<GetCheckoutRequest>,
    ) -> Result<Response<Checkout>, Status> {
        let message = request.get_ref().clone();
        let caller = self.receive(
            "GetCheckout",
            &request,
            Seen {
                consistency: message.consistency.clone(),
                id: message.order_id.clone(),
                ..Seen::default()
            },
        )?;
        let checkout = checkouts()
            .into_iter()
            .find(|c| c.order_id == message.order_id)
            .ok_or_else(|| Status::not_found(format!("no checkout {}", message.order_id)))?;
        caller.require_customer(&checkout.customer_id)?;
        Ok(Response::new(checkout))
    }

    async fn list_stuck_checkouts(
        &self,
        request: Request<ListStuckCheckoutsRequest>,
    ) -> Result<Response<ListStuckCheckoutsResponse>, Status> {
        let message = request.get_ref().clone();
        let caller = self.receive(
            "ListStuckCheckouts",
            &request,
            Seen {
                consistency: message.consistency.clone(),
                limit: message.limit,
                cursor: message.cursor.clone(),
                ..Seen::default()
            },
        )?;
        caller.require_admin()?;
        check_cursor(&message.cursor)?;
        let checkouts = checkouts()
            .into_iter()
            .filter(|c| c.status == "compensating")
            .collect();
        Ok(Response::new(ListStuckCheckoutsResponse {
            checkouts,
            next_cursor: String::new(),
        }))
    }
}
