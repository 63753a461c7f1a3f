//! The storefront flows a virtual customer runs, each ending as [`Ended`]: what counts as
//! success, what as an expected refusal (an item out of stock, a cart that changed under a
//! checkout), and what as an error; and following a purchase to its outcome.

use std::time::Duration;

use proto::{
    cart::{AddItemRequest, ClearRequest},
    order::CheckoutRequest,
    payment::PaymentMethod,
};
use tonic::Code;
use uuid::Uuid;

use crate::{
    config::Flow,
    error::{ErrorKind, Failure},
    recorder::Ended,
    rng::Rng,
    setup::{Customer, Item},
    shop::{Shop, not_yet_consistent},
};

/// Attempts of a command that the server answers `ABORTED` (its stream kept changing): the
/// same command id is sent again, as the API documents.
const ATTEMPTS: u32 = 3;

/// What the flows of a run share.
pub struct Storefront {
    /// The clients.
    pub shop: Shop,
    /// The catalogue.
    pub items: Vec<Item>,
    /// How long a purchase is followed.
    pub settle_timeout: Duration,
}

impl Storefront {
    /// Runs `flow` as `customer`; the order to follow if it placed one.
    pub async fn run(
        &self,
        flow: Flow,
        customer: &Customer,
        rng: &mut Rng,
    ) -> (Ended, Option<Uuid>) {
        match flow {
            Flow::Browse => (self.browse(customer, rng).await, None),
            Flow::Detail => (self.detail(customer, rng).await, None),
            Flow::AddToCart => (self.add_to_cart(customer, rng).await, None),
            Flow::ViewCart => (self.view_cart(customer).await, None),
            Flow::Checkout => self.checkout(customer, rng).await,
        }
    }

    async fn browse(&self, customer: &Customer, rng: &mut Rng) -> Ended {
        let cursor = customer
            .knowledge()
            .cursor
            .clone()
            .filter(|_| rng.below(2) == 0);
        let path = match cursor {
            Some(cursor) => format!("/products?limit=20&cursor={}", percent_encoded(&cursor)),
            None => "/products?limit=20".to_owned(),
        };
        match self.shop.get(&path, &customer.token, None).await {
            Ok(page) => {
                let next = page["next_cursor"].as_str().filter(|c| !c.is_empty());
                customer.knowledge().cursor = next.map(str::to_owned);
                Ended::Ok
            }
            Err(failure) => Ended::Failed(failure),
        }
    }

    async fn detail(&self, customer: &Customer, rng: &mut Rng) -> Ended {
        let item = &self.items[rng.below(self.items.len())];
        let path = format!("/products/{}", item.product);
        match self.shop.get(&path, &customer.token, None).await {
            Ok(_) => Ended::Ok,
            Err(failure) => Ended::Failed(failure),
        }
    }

    async fn view_cart(&self, customer: &Customer) -> Ended {
        let token = customer
            .knowledge()
            .version
            .map(|version| format!("cart-{}@{version}", customer.id));
        match self
            .shop
            .get("/cart", &customer.token, token.as_deref())
            .await
        {
            Ok(_) => Ended::Ok,
            Err(failure) if not_yet_consistent(&failure) => {
                Ended::Expected("not yet consistent".to_owned())
            }
            Err(failure) => Ended::Failed(failure),
        }
    }

    async fn add_to_cart(&self, customer: &Customer, rng: &mut Rng) -> Ended {
        let item = &self.items[rng.below(self.items.len())];
        let id = Uuid::new_v4();
        let message = AddItemRequest {
            command_id: id.to_string(),
            customer_id: customer.id.to_string(),
            product_id: item.product.to_string(),
            sku_id: item.sku.to_string(),
            quantity: 1,
        };
        let answer = self
            .with_retries(Flow::AddToCart, || {
                let mut client = self.shop.carts.clone();
                self.shop.send(
                    "CartCommands.AddItem",
                    id,
                    &customer.token,
                    message.clone(),
                    |r| async move { client.add_item(r).await.map(|a| a.into_inner().result) },
                )
            })
            .await;
        match answer {
            Ok(result) => {
                let mut knowledge = customer.knowledge();
                knowledge.version = Some(result.version);
                knowledge.items += 1;
                Ended::Ok
            }
            Err(failure) => match refusal(&failure) {
                Some(outcome) => Ended::Expected(outcome.to_owned()),
                None => Ended::Failed(failure),
            },
        }
    }

    /// Buys the cart by balance, after adding an item if none was added since the last
    /// checkout; the order to follow when acknowledged.
    async fn checkout(&self, customer: &Customer, rng: &mut Rng) -> (Ended, Option<Uuid>) {
        if customer.knowledge().clear_first
            && let Err(failure) = self.clear_cart(customer).await
        {
            return (Ended::Failed(failure), None);
        }
        if customer.knowledge().items == 0 {
            let added = self.add_to_cart(customer, rng).await;
            if added != Ended::Ok {
                return (added, None);
            }
        }
        let expected_cart_version = customer.knowledge().version;
        let (id, order) = (Uuid::new_v4(), Uuid::new_v4());
        let message = CheckoutRequest {
            command_id: id.to_string(),
            order_id: order.to_string(),
            customer_id: customer.id.to_string(),
            expected_cart_version,
            payment_method: PaymentMethod::Balance.into(),
        };
        let answer = self
            .with_retries(Flow::Checkout, || {
                let mut client = self.shop.orders.clone();
                self.shop.send(
                    "OrderCommands.Checkout",
                    id,
                    &customer.token,
                    message.clone(),
                    |r| async move { client.checkout(r).await.map(|a| a.into_inner().result) },
                )
            })
            .await;
        let mut knowledge = customer.knowledge();
        match answer {
            Ok(_) => {
                // The process manager clears the cart when the purchase completes: the
                // version seen so far is stale from now on.
                knowledge.items = 0;
                knowledge.version = None;
                self.shop.recorder.purchase_placed();
                (Ended::Ok, Some(order))
            }
            Err(failure) if precondition(&failure, "cart changed") => {
                knowledge.version = None;
                (Ended::Expected("cart changed".to_owned()), None)
            }
            Err(failure)
                if precondition(&failure, "cart is empty")
                    || precondition(&failure, "cart does not exist") =>
            {
                knowledge.items = 0;
                (Ended::Expected("cart empty".to_owned()), None)
            }
            Err(failure) => (Ended::Failed(failure), None),
        }
    }

    /// Empties the cart of a customer whose last purchase was cancelled (its lines may be sold
    /// out: buying them again would fail again).
    async fn clear_cart(&self, customer: &Customer) -> Result<(), Failure> {
        let id = Uuid::new_v4();
        let message = ClearRequest {
            command_id: id.to_string(),
            customer_id: customer.id.to_string(),
        };
        let answer = self
            .with_retries(Flow::Checkout, || {
                let mut client = self.shop.carts.clone();
                self.shop.send(
                    "CartCommands.Clear",
                    id,
                    &customer.token,
                    message.clone(),
                    |r| async move { client.clear(r).await.map(|a| a.into_inner().result) },
                )
            })
            .await;
        let mut knowledge = customer.knowledge();
        match answer {
            Ok(result) => knowledge.version = Some(result.version),
            // Never written: nothing to clear.
            Err(failure) if failure.kind == ErrorKind::grpc(Code::NotFound) => {}
            Err(failure) => return Err(failure),
        }
        knowledge.items = 0;
        knowledge.clear_first = false;
        Ok(())
    }

    /// Sends a command until it is not `ABORTED`, at most [`ATTEMPTS`] times; each retry counts
    /// as the expected outcome `conflict, retried`.
    async fn with_retries<F, Fut, T>(&self, flow: Flow, mut send: F) -> Result<T, Failure>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let mut attempt = 1;
        loop {
            match send().await {
                Err(failure)
                    if failure.kind == ErrorKind::grpc(Code::Aborted) && attempt < ATTEMPTS =>
                {
                    self.shop
                        .recorder
                        .expected_along_the_way(flow, "conflict, retried");
                    attempt += 1;
                }
                answer => return answer,
            }
        }
    }
}

/// `text` with every byte but ASCII letters, digits and `-_.~` percent-encoded, for a query.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Whether `failure` is `FAILED_PRECONDITION` with a message starting with `prefix`.
fn precondition(failure: &Failure, prefix: &str) -> bool {
    failure.kind == ErrorKind::grpc(Code::FailedPrecondition) && failure.reason.starts_with(prefix)
}

/// The expected outcome an `AddItem` refusal stands for, if it is one: no stock left, or the
/// cart's limits (`docs`: `FAILED_PRECONDITION`, "show the status to the user").
pub fn refusal(failure: &Failure) -> Option<&'static str> {
    if precondition(failure, "insufficient stock") {
        Some("out of stock")
    } else if precondition(failure, "cart is full") || precondition(failure, "line for sku") {
        Some("cart limit")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_and_cart_limits_are_expected_refusals_and_nothing_else_is() {
        let refused = |code, message: &str| refusal(&Failure::new(ErrorKind::grpc(code), message));
        assert_eq!(
            refused(
                Code::FailedPrecondition,
                "insufficient stock for sku 1: 0 available, 1 requested"
            ),
            Some("out of stock")
        );
        assert_eq!(
            refused(Code::FailedPrecondition, "cart is full: at most 100 lines"),
            Some("cart limit")
        );
        assert_eq!(refused(Code::Internal, "insufficient stock"), None);
        assert_eq!(
            refused(Code::FailedPrecondition, "product x is discontinued"),
            None
        );
    }
}
