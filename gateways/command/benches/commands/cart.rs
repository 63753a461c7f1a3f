//! `CartCommands.AddItem`: customers filling carts from a seeded catalog.

use std::collections::VecDeque;

use command::auth::ROLE_CUSTOMER;
use proto::cart::{AddItemRequest, cart_commands_client::CartCommandsClient};
use tonic::transport::Channel;
use uuid::Uuid;

use crate::{
    harness::{Client, Workload},
    product::Sku,
    server::{Server, Token, authed, bearer, connect},
};

/// Lines of each cart.
const ITEMS_PER_CART: usize = 10;
/// Products (one SKU each) the carts are filled from.
pub const CATALOG: usize = 64;

/// `CartCommands.AddItem` of one item, as the cart's owner. The cart service asks the product
/// service for the SKU's facts on every call (a second gRPC hop, part of the figure). Each client
/// fills carts of its own, [`ITEMS_PER_CART`] lines each from a shared catalog, then moves to a
/// new customer's cart: carts are 1 to 10 events long at every level.
pub struct AddItem {
    /// The cart service (pointed at the product service).
    pub cart: Server,
    /// The products carts are filled from.
    pub catalog: Vec<Sku>,
}

/// A client filling its customers' carts, one after the other.
pub struct Shopper {
    client: CartCommandsClient<Channel>,
    catalog: Vec<Sku>,
    /// Offset of this client in the catalog, so clients read different products.
    offset: usize,
    /// Customers (id, token) whose carts this client fills, in turn.
    customers: VecDeque<(Uuid, Token)>,
    /// Lines added to the current cart.
    added: usize,
}

impl Client for Shopper {
    async fn call(&mut self) -> Result<(), String> {
        if self.added == ITEMS_PER_CART && self.customers.len() > 1 {
            self.customers.pop_front();
            self.added = 0;
        }
        let (customer_id, token) = &self.customers[0];
        let sku = self.catalog[(self.offset + self.added) % self.catalog.len()];
        self.added += 1;
        let request = AddItemRequest {
            command_id: Uuid::new_v4().to_string(),
            customer_id: customer_id.to_string(),
            product_id: sku.product_id.to_string(),
            sku_id: sku.sku_id.to_string(),
            quantity: 1,
        };
        self.client
            .add_item(authed(request, token))
            .await
            .map(drop)
            .map_err(|status| format!("{:?}", status.code()))
    }
}

impl Workload for AddItem {
    type Client = Shopper;
    const EVENT_TYPE: &'static str = "CartItemAdded";

    async fn clients(&mut self, clients: usize, calls: u64) -> Vec<Shopper> {
        let carts = (calls / clients as u64) as usize / ITEMS_PER_CART + 1;
        let mut out = Vec::with_capacity(clients);
        for index in 0..clients {
            let customers = (0..carts)
                .map(|_| {
                    let id = Uuid::new_v4();
                    let token = bearer(&self.cart.auth, &id.to_string(), &[ROLE_CUSTOMER]);
                    (id, token)
                })
                .collect();
            out.push(Shopper {
                client: CartCommandsClient::new(connect(self.cart.address).await),
                catalog: self.catalog.clone(),
                offset: index * ITEMS_PER_CART,
                customers,
                added: 0,
            });
        }
        out
    }
}
