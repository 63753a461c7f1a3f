//! Read model `catalog` (Redis, category `product`): products with their SKUs, prices,
//! attributes, stock levels and status, and a title index for paging and prefix search.
//!
//! Keys, all under the projection's [`KeySpace`] (`<prefix>:catalog:`):
//!
//! | key | type | content |
//! |---|---|---|
//! | `product:<product id>` | hash | `title`, `description`, `status` (`active`/`discontinued`), `created_at`, `updated_at` (RFC 3339, the events' `at`), `created_position` |
//! | `product:<product id>:skus` | sorted set | SKU ids, scored by the global position of `SkuAdded` (order of addition) |
//! | `sku:<sku id>` | hash | `product_id`, `price_minor`, `currency`, `attributes` (JSON object), `on_hand`, `reserved`, `available`, `status`, `added_at`, `updated_at` |
//! | `products:by_title` | sorted set, all scores 0 | `<lowercased title>\0<product id>`: lexicographic order by title, for `ZRANGEBYLEX` paging and title-prefix filtering |
//!
//! Stock events carry the SKU's levels after the movement, so every write is an absolute `HSET`;
//! the runtime applies a stream's events in order. Titles never change (there is no rename
//! event), so index members are stable.
//!
//! Readers: [`get_product`], [`list_products`] (by title; the cursor is the last product id of
//! the previous page; the filter is a case-insensitive title prefix).

use std::collections::{BTreeMap, HashMap};

use aggregates::{Money, ProductId, SkuId, product::ProductEvent};
use chrono::{DateTime, Utc};
use event_store::RecordedEvent;
use redis::aio::ConnectionLike;

use super::{Hash, ReadError, currency, decode, hset, registry};
use crate::{KeySpace, ProjectionError, RedisProjection, RedisWrite};

/// The `catalog` projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Catalog;

impl RedisProjection for Catalog {
    fn name(&self) -> &'static str {
        registry::CATALOG.name
    }

    fn categories(&self) -> &'static [&'static str] {
        registry::CATALOG.categories
    }

    fn writes(
        &self,
        keys: &KeySpace,
        event: &RecordedEvent,
    ) -> Result<Vec<RedisWrite>, ProjectionError> {
        let Some(decoded) = decode::<ProductEvent>(event)? else {
            return Ok(Vec::new());
        };
        Ok(writes(keys, event, decoded))
    }
}

fn product_key(keys: &KeySpace, product_id: ProductId) -> String {
    keys.key(&format!("product:{product_id}"))
}

fn sku_key(keys: &KeySpace, sku_id: SkuId) -> String {
    keys.key(&format!("sku:{sku_id}"))
}

fn title_index(keys: &KeySpace) -> String {
    keys.key("products:by_title")
}

/// The title index member of a product.
fn title_member(title: &str, product_id: ProductId) -> String {
    format!("{}\0{product_id}", title.to_lowercase())
}

fn writes(keys: &KeySpace, event: &RecordedEvent, decoded: ProductEvent) -> Vec<RedisWrite> {
    let levels =
        |sku_id: SkuId, on_hand: u32, reserved: u32, available: u32, at: &DateTime<Utc>| {
            hset(
                sku_key(keys, sku_id),
                [
                    ("on_hand", on_hand.to_string()),
                    ("reserved", reserved.to_string()),
                    ("available", available.to_string()),
                    ("updated_at", at.to_rfc3339()),
                ],
            )
        };
    match decoded {
        ProductEvent::ProductCreated {
            product_id,
            title,
            description,
            at,
        } => vec![
            hset(
                product_key(keys, product_id),
                [
                    ("title", title.clone()),
                    ("description", description),
                    ("status", "active".to_owned()),
                    ("created_at", at.to_rfc3339()),
                    ("updated_at", at.to_rfc3339()),
                    ("created_position", event.position.to_string()),
                ],
            ),
            RedisWrite::new(
                "ZADD",
                title_index(keys),
                ["0".to_owned(), title_member(&title, product_id)],
            ),
        ],
        ProductEvent::SkuAdded {
            product_id,
            sku_id,
            price,
            attributes,
            at,
        } => vec![
            hset(
                sku_key(keys, sku_id),
                [
                    ("product_id", product_id.to_string()),
                    ("price_minor", price.amount_minor().to_string()),
                    ("currency", price.currency().to_string()),
                    ("attributes", serde_json::json!(attributes).to_string()),
                    ("on_hand", "0".to_owned()),
                    ("reserved", "0".to_owned()),
                    ("available", "0".to_owned()),
                    ("status", "active".to_owned()),
                    ("added_at", at.to_rfc3339()),
                    ("updated_at", at.to_rfc3339()),
                ],
            ),
            RedisWrite::new(
                "ZADD",
                keys.key(&format!("product:{product_id}:skus")),
                [event.position.to_string(), sku_id.to_string()],
            ),
            hset(
                product_key(keys, product_id),
                [("updated_at", at.to_rfc3339())],
            ),
        ],
        ProductEvent::SkuRestocked {
            sku_id,
            on_hand,
            reserved,
            available,
            at,
            ..
        } => vec![levels(sku_id, on_hand, reserved, available, &at)],
        ProductEvent::StockReserved { items, at, .. }
        | ProductEvent::StockReleased { items, at, .. }
        | ProductEvent::StockCommitted { items, at, .. }
        | ProductEvent::StockReturned { items, at, .. } => items
            .iter()
            .map(|item| {
                levels(
                    item.sku_id,
                    item.on_hand,
                    item.reserved,
                    item.available,
                    &at,
                )
            })
            .collect(),
        ProductEvent::ProductDiscontinued {
            product_id,
            discontinued_skus,
            at,
        } => {
            let discontinued = [
                ("status", "discontinued".to_owned()),
                ("updated_at", at.to_rfc3339()),
            ];
            let mut writes = vec![hset(product_key(keys, product_id), discontinued.clone())];
            writes.extend(
                discontinued_skus
                    .iter()
                    .map(|sku_id| hset(sku_key(keys, *sku_id), discontinued.clone())),
            );
            writes
        }
        ProductEvent::SkuDiscontinued { sku_id, at, .. } => vec![hset(
            sku_key(keys, sku_id),
            [
                ("status", "discontinued".to_owned()),
                ("updated_at", at.to_rfc3339()),
            ],
        )],
    }
}

/// Whether a product or SKU is on sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaleStatus {
    /// Can be ordered.
    Active,
    /// Shown, but no longer sold.
    Discontinued,
}

impl SaleStatus {
    fn parse(text: &str) -> Result<Self, ReadError> {
        match text {
            "active" => Ok(Self::Active),
            "discontinued" => Ok(Self::Discontinued),
            other => Err(ReadError::Corrupt(format!("sale status {other:?}"))),
        }
    }
}

/// A SKU as the catalog shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuView {
    /// The SKU's id.
    pub sku_id: SkuId,
    /// Current unit price.
    pub price: Money,
    /// What tells it apart from the product's other SKUs (size, colour, …).
    pub attributes: BTreeMap<String, String>,
    /// Units in stock.
    pub on_hand: u32,
    /// Units reserved for placed orders, not yet shipped or released.
    pub reserved: u32,
    /// `on_hand − reserved`: what can still be ordered.
    pub available: u32,
    /// Whether it can be ordered.
    pub status: SaleStatus,
    /// When it was added to the product.
    pub added_at: DateTime<Utc>,
    /// Time of the last event applied to it.
    pub updated_at: DateTime<Utc>,
}

/// A product with its SKUs in the order they were added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductView {
    /// The product's id.
    pub product_id: ProductId,
    /// Name shown in listings.
    pub title: String,
    /// Longer text shown on the product page.
    pub description: String,
    /// Whether it is on sale.
    pub status: SaleStatus,
    /// Its SKUs, in the order they were added.
    pub skus: Vec<SkuView>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Time of the last event applied to it.
    pub updated_at: DateTime<Utc>,
}

/// One page of [`list_products`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductPage {
    /// The page's products, by title then id.
    pub products: Vec<ProductView>,
    /// Pass as `after` for the next page; `None` on the last page.
    pub next: Option<ProductId>,
}

/// The product `product_id` with its SKUs, if the catalog has seen it created.
pub async fn get_product(
    conn: &mut impl ConnectionLike,
    keys: &KeySpace,
    product_id: ProductId,
) -> Result<Option<ProductView>, ReadError> {
    Ok(get_products(conn, keys, &[product_id])
        .await?
        .pop()
        .flatten())
}

/// Products ordered by title (then id), `limit` (clamped to 1..=500) at a time, after the
/// product `after` (the `next` of the previous page), keeping only titles that start with
/// `filter` ignoring case.
pub async fn list_products(
    conn: &mut impl ConnectionLike,
    keys: &KeySpace,
    after: Option<ProductId>,
    limit: u32,
    filter: Option<&str>,
) -> Result<ProductPage, ReadError> {
    let limit = limit.clamp(1, 500);
    let prefix = filter.unwrap_or_default().to_lowercase().into_bytes();
    let mut min = [b"[".as_slice(), &prefix].concat();
    if let Some(after) = after {
        let title: Option<String> = redis::cmd("HGET")
            .arg(product_key(keys, after))
            .arg("title")
            .query_async(conn)
            .await?;
        let title = title.ok_or_else(|| ReadError::InvalidCursor(after.to_string()))?;
        let member = title_member(&title, after).into_bytes();
        if member >= prefix {
            min = [b"(".as_slice(), &member].concat();
        }
    }
    // No UTF-8 text contains 0xFF, so `prefix ++ 0xFF` is above every title with the prefix.
    let max = match prefix.is_empty() {
        true => b"+".to_vec(),
        false => [b"(".as_slice(), &prefix, &[0xFF]].concat(),
    };
    let members: Vec<String> = redis::cmd("ZRANGEBYLEX")
        .arg(title_index(keys))
        .arg(min)
        .arg(max)
        .arg("LIMIT")
        .arg(0)
        .arg(limit)
        .query_async(conn)
        .await?;
    let ids = members
        .iter()
        .map(|member| {
            let id = member.rsplit('\0').next().unwrap_or_default();
            id.parse()
                .map_err(|_| ReadError::Corrupt(format!("title index member {member:?}")))
        })
        .collect::<Result<Vec<ProductId>, _>>()?;
    let products = get_products(conn, keys, &ids)
        .await?
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| ReadError::Corrupt("title index names a missing product".to_owned()))?;
    let next = match products.len() == limit as usize {
        true => products.last().map(|product| product.product_id),
        false => None,
    };
    Ok(ProductPage { products, next })
}

/// Loads `ids` in two round trips (products and SKU lists, then SKUs), in `ids` order.
async fn get_products(
    conn: &mut impl ConnectionLike,
    keys: &KeySpace,
    ids: &[ProductId],
) -> Result<Vec<Option<ProductView>>, ReadError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for id in ids {
        pipe.hgetall(product_key(keys, *id));
        pipe.zrange(keys.key(&format!("product:{id}:skus")), 0, -1);
    }
    let replies: Vec<redis::Value> = pipe.query_async(conn).await?;
    let mut heads = Vec::with_capacity(ids.len());
    let mut sku_ids = Vec::new();
    for (id, pair) in ids.iter().zip(replies.chunks(2)) {
        let hash: HashMap<String, String> =
            redis::from_redis_value_ref(&pair[0]).map_err(corrupt)?;
        let skus: Vec<SkuId> = redis::from_redis_value_ref::<Vec<String>>(&pair[1])
            .map_err(corrupt)?
            .iter()
            .map(|sku| {
                sku.parse()
                    .map_err(|_| ReadError::Corrupt(format!("sku id {sku:?}")))
            })
            .collect::<Result<_, _>>()?;
        sku_ids.extend(skus.iter().copied());
        heads.push((*id, Hash(hash), skus));
    }
    let mut pipe = redis::pipe();
    for sku in &sku_ids {
        pipe.hgetall(sku_key(keys, *sku));
    }
    let sku_hashes: Vec<HashMap<String, String>> = match sku_ids.is_empty() {
        true => Vec::new(),
        false => pipe.query_async(conn).await?,
    };
    let mut skus = sku_ids
        .into_iter()
        .zip(sku_hashes)
        .map(|(sku_id, hash)| sku_view(sku_id, &Hash(hash)));
    heads
        .into_iter()
        .map(|(product_id, hash, own_skus)| {
            let skus = skus
                .by_ref()
                .take(own_skus.len())
                .collect::<Result<_, _>>()?;
            match hash.0.is_empty() {
                true => Ok(None),
                false => product_view(product_id, &hash, skus).map(Some),
            }
        })
        .collect()
}

fn corrupt(err: impl std::fmt::Display) -> ReadError {
    ReadError::Corrupt(err.to_string())
}

fn product_view(
    product_id: ProductId,
    hash: &Hash,
    skus: Vec<SkuView>,
) -> Result<ProductView, ReadError> {
    Ok(ProductView {
        product_id,
        title: hash.text("title")?.to_owned(),
        description: hash.text("description")?.to_owned(),
        status: SaleStatus::parse(hash.text("status")?)?,
        skus,
        created_at: hash.parse("created_at")?,
        updated_at: hash.parse("updated_at")?,
    })
}

fn sku_view(sku_id: SkuId, hash: &Hash) -> Result<SkuView, ReadError> {
    let attributes = serde_json::from_str(hash.text("attributes")?)
        .map_err(|err| ReadError::Corrupt(format!("sku attributes: {err}")))?;
    Ok(SkuView {
        sku_id,
        price: Money::new(
            hash.parse("price_minor")?,
            currency(hash.text("currency")?)?,
        ),
        attributes,
        on_hand: hash.parse("on_hand")?,
        reserved: hash.parse("reserved")?,
        available: hash.parse("available")?,
        status: SaleStatus::parse(hash.text("status")?)?,
        added_at: hash.parse("added_at")?,
        updated_at: hash.parse("updated_at")?,
    })
}
