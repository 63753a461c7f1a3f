//! Read model `cart_view` (Redis, categories `cart` and `product`): each customer's cart, and a
//! private copy of the SKU facts the cart needs to say whether a line can still be ordered (no
//! reads of the catalog's keys; the copy is built from product events here:
//! docs/private-read-model-copies.md).
//!
//! Keys, all under the projection's [`KeySpace`] (`<prefix>:cart_view:`):
//!
//! | key | type | content |
//! |---|---|---|
//! | `cart:<customer id>` | hash | per line: `line:<sku id>` (JSON: `product_id`, `title`, `unit_price`), `qty:<sku id>` (quantity), `since:<sku id>` (global position of the add that opened the line: line order); and `updated_at` (RFC 3339, the last cart event's `at`) |
//! | `sku:<sku id>` | hash | private copy: `product_id`, `price_minor`, `currency`, `on_hand`, `reserved`, `available`, `active` (`1`/`0`) |
//! | `product:<product id>` | hash | private copy: `title`, `active` (`1`/`0`) |
//!
//! A cart is one key, so `CartCleared` is one `DEL`. Every write is computed from the event
//! alone: `CartItemQuantityChanged` rewrites only the `qty:` field, which is why a line is split
//! over fields.
//!
//! Reader: [`load`], which computes line totals, the cart total and each line's `valid` flag
//! from the private copy at query time.

use aggregates::{
    CustomerId, Money, ProductId, SkuId,
    cart::CartEvent,
    product::{ProductEvent, StockChange},
};
use chrono::{DateTime, Utc};
use event_store::RecordedEvent;
use redis::aio::ConnectionLike;
use serde::{Deserialize, Serialize};

use super::{Hash, ReadError, decode, hset, registry};
use crate::{KeySpace, ProjectionError, RedisProjection, RedisWrite};

/// The `cart_view` projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct CartViewProjection;

impl RedisProjection for CartViewProjection {
    fn name(&self) -> &'static str {
        registry::CART_VIEW.name
    }

    fn categories(&self) -> &'static [&'static str] {
        registry::CART_VIEW.categories
    }

    fn writes(
        &self,
        keys: &KeySpace,
        event: &RecordedEvent,
    ) -> Result<Vec<RedisWrite>, ProjectionError> {
        if let Some(cart) = decode::<CartEvent>(event)? {
            return Ok(cart_writes(keys, event, cart));
        }
        if let Some(product) = decode::<ProductEvent>(event)? {
            return Ok(product_writes(keys, product));
        }
        Ok(Vec::new())
    }
}

/// The static part of a line, stored as JSON in `line:<sku id>`.
#[derive(Debug, Serialize, Deserialize)]
struct StoredLine {
    product_id: ProductId,
    title: String,
    unit_price: Money,
}

fn cart_key(keys: &KeySpace, customer_id: CustomerId) -> String {
    keys.key(&format!("cart:{customer_id}"))
}

fn sku_key(keys: &KeySpace, sku_id: SkuId) -> String {
    keys.key(&format!("sku:{sku_id}"))
}

fn product_key(keys: &KeySpace, product_id: ProductId) -> String {
    keys.key(&format!("product:{product_id}"))
}

fn cart_writes(keys: &KeySpace, event: &RecordedEvent, decoded: CartEvent) -> Vec<RedisWrite> {
    match decoded {
        CartEvent::CartItemAdded {
            customer_id,
            product_id,
            sku_id,
            title,
            unit_price,
            line_quantity,
            at,
            ..
        } => {
            let key = cart_key(keys, customer_id);
            let line = StoredLine {
                product_id,
                title,
                unit_price,
            };
            // A struct of ids, text and money always serializes.
            let line = serde_json::to_string(&line).unwrap_or_default();
            vec![
                hset(
                    key.clone(),
                    [
                        (format!("line:{sku_id}").as_str(), line),
                        (format!("qty:{sku_id}").as_str(), line_quantity.to_string()),
                        ("updated_at", at.to_rfc3339()),
                    ],
                ),
                RedisWrite::new(
                    "HSETNX",
                    key,
                    [format!("since:{sku_id}"), event.position.to_string()],
                ),
            ]
        }
        CartEvent::CartItemQuantityChanged {
            customer_id,
            sku_id,
            quantity,
            at,
            ..
        } => vec![hset(
            cart_key(keys, customer_id),
            [
                (format!("qty:{sku_id}").as_str(), quantity.to_string()),
                ("updated_at", at.to_rfc3339()),
            ],
        )],
        CartEvent::CartItemRemoved {
            customer_id,
            sku_id,
            at,
        } => {
            let key = cart_key(keys, customer_id);
            vec![
                RedisWrite::new(
                    "HDEL",
                    key.clone(),
                    [
                        format!("line:{sku_id}"),
                        format!("qty:{sku_id}"),
                        format!("since:{sku_id}"),
                    ],
                ),
                hset(key, [("updated_at", at.to_rfc3339())]),
            ]
        }
        CartEvent::CartCleared { customer_id, at } => {
            let key = cart_key(keys, customer_id);
            vec![
                RedisWrite::new("DEL", key.clone(), Vec::<String>::new()),
                hset(key, [("updated_at", at.to_rfc3339())]),
            ]
        }
    }
}

fn product_writes(keys: &KeySpace, decoded: ProductEvent) -> Vec<RedisWrite> {
    let levels = |item: &StockChange| {
        hset(
            sku_key(keys, item.sku_id),
            [
                ("on_hand", item.on_hand.to_string()),
                ("reserved", item.reserved.to_string()),
                ("available", item.available.to_string()),
            ],
        )
    };
    let inactive = || [("active", "0".to_owned())];
    match decoded {
        ProductEvent::ProductCreated {
            product_id, title, ..
        } => vec![hset(
            product_key(keys, product_id),
            [("title", title), ("active", "1".to_owned())],
        )],
        ProductEvent::SkuAdded {
            product_id,
            sku_id,
            price,
            ..
        } => vec![hset(
            sku_key(keys, sku_id),
            [
                ("product_id", product_id.to_string()),
                ("price_minor", price.amount_minor().to_string()),
                ("currency", price.currency().to_string()),
                ("on_hand", "0".to_owned()),
                ("reserved", "0".to_owned()),
                ("available", "0".to_owned()),
                ("active", "1".to_owned()),
            ],
        )],
        ProductEvent::SkuRestocked {
            sku_id,
            quantity,
            on_hand,
            reserved,
            available,
            ..
        } => vec![levels(&StockChange {
            sku_id,
            quantity,
            on_hand,
            reserved,
            available,
        })],
        ProductEvent::StockReserved { items, .. }
        | ProductEvent::StockReleased { items, .. }
        | ProductEvent::StockCommitted { items, .. }
        | ProductEvent::StockReturned { items, .. } => items.iter().map(levels).collect(),
        ProductEvent::ProductDiscontinued {
            product_id,
            discontinued_skus,
            ..
        } => std::iter::once(hset(product_key(keys, product_id), inactive()))
            .chain(
                discontinued_skus
                    .iter()
                    .map(|sku_id| hset(sku_key(keys, *sku_id), inactive())),
            )
            .collect(),
        ProductEvent::SkuDiscontinued { sku_id, .. } => {
            vec![hset(sku_key(keys, sku_id), inactive())]
        }
    }
}

/// Why a cart line cannot be ordered as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineProblem {
    /// The private SKU copy has not seen this SKU (or its product) yet.
    UnknownSku,
    /// The SKU or its product is no longer sold.
    NotSold,
    /// Fewer items are available than the line asks for.
    InsufficientStock {
        /// Items available now.
        available: u32,
    },
}

/// A line of a cart, with what the private SKU copy says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartLineView {
    /// The product the SKU belongs to.
    pub product_id: ProductId,
    /// The SKU in the cart.
    pub sku_id: SkuId,
    /// Title shown when the item was added.
    pub title: String,
    /// Unit price the line took when last added.
    pub unit_price: Money,
    /// Units in the cart.
    pub quantity: u32,
    /// `unit_price × quantity`.
    pub line_total: Money,
    /// Stock available for this SKU now, if the SKU is known.
    pub available: Option<u32>,
    /// Whether the line can be ordered as it is: `problem` is `None`.
    pub valid: bool,
    /// Why the line cannot be ordered as it is, if it cannot.
    pub problem: Option<LineProblem>,
}

/// A customer's cart; an unused or cleared cart has no lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartView {
    /// The cart's owner (a customer has one cart).
    pub customer_id: CustomerId,
    /// Lines in the order they were first added.
    pub lines: Vec<CartLineView>,
    /// Sum of the line totals; `None` for an empty cart.
    pub total: Option<Money>,
    /// Whether every line is valid (true for an empty cart).
    pub valid: bool,
    /// Time of the last cart event, if any.
    pub updated_at: Option<DateTime<Utc>>,
}

/// The cart of `customer_id`, with totals and validity computed from the private SKU copy.
pub async fn load(
    conn: &mut impl ConnectionLike,
    keys: &KeySpace,
    customer_id: CustomerId,
) -> Result<CartView, ReadError> {
    let cart: Hash = Hash(
        redis::cmd("HGETALL")
            .arg(cart_key(keys, customer_id))
            .query_async(conn)
            .await?,
    );
    let mut lines = Vec::new();
    for (field, json) in &cart.0 {
        let Some(sku) = field.strip_prefix("line:") else {
            continue;
        };
        let sku_id: SkuId = sku
            .parse()
            .map_err(|_| ReadError::Corrupt(format!("cart field {field:?}")))?;
        let line: StoredLine = serde_json::from_str(json)
            .map_err(|err| ReadError::Corrupt(format!("cart line {sku}: {err}")))?;
        let quantity: u32 = cart.parse(&format!("qty:{sku}"))?;
        let since: u64 = cart.parse(&format!("since:{sku}"))?;
        lines.push((since, sku_id, line, quantity));
    }
    lines.sort_by_key(|(since, sku_id, ..)| (*since, *sku_id));

    let mut pipe = redis::pipe();
    for (_, sku_id, line, _) in &lines {
        pipe.hgetall(sku_key(keys, *sku_id));
        pipe.hgetall(product_key(keys, line.product_id));
    }
    let copies: Vec<std::collections::HashMap<String, String>> = match lines.is_empty() {
        true => Vec::new(),
        false => pipe.query_async(conn).await?,
    };

    let mut views = Vec::with_capacity(lines.len());
    for ((_, sku_id, line, quantity), copy) in lines.into_iter().zip(copies.chunks(2)) {
        let (sku, product) = (Hash(copy[0].clone()), Hash(copy[1].clone()));
        let available: Option<u32> = sku.parse_opt("available")?;
        let problem = match available {
            _ if sku.0.is_empty() || product.0.is_empty() => Some(LineProblem::UnknownSku),
            _ if sku.text("active")? != "1" || product.text("active")? != "1" => {
                Some(LineProblem::NotSold)
            }
            Some(available) if available < quantity => {
                Some(LineProblem::InsufficientStock { available })
            }
            _ => None,
        };
        let line_total = line
            .unit_price
            .checked_mul(quantity)
            .map_err(|err| ReadError::Corrupt(format!("line total: {err}")))?;
        views.push(CartLineView {
            product_id: line.product_id,
            sku_id,
            title: line.title,
            unit_price: line.unit_price,
            quantity,
            line_total,
            available,
            valid: problem.is_none(),
            problem,
        });
    }
    let mut total: Option<Money> = None;
    for line in &views {
        total = Some(match total {
            None => line.line_total,
            Some(sum) => sum
                .checked_add(&line.line_total)
                .map_err(|err| ReadError::Corrupt(format!("cart total: {err}")))?,
        });
    }
    Ok(CartView {
        customer_id,
        valid: views.iter().all(|line| line.valid),
        lines: views,
        total,
        updated_at: cart.parse_opt("updated_at")?,
    })
}
