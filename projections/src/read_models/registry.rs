//! The one list of read models as other processes know them: each one's name (consumer group
//! suffix, version-marker and parking namespace), the store it lives in, and the stream
//! categories it follows. The projections take their [`name`](crate::PostgresProjection::name)
//! and [`categories`](crate::PostgresProjection::categories) from here, and the query side's
//! consistency check reads it, so the worker and the reader cannot disagree about which tokens a
//! model can reach or where its markers are.

use aggregates::{Aggregate, Cart, Checkout, Customer, Order, Payment, Product};

/// Where a read model keeps its state and its version markers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Store {
    /// PostgreSQL tables; markers in table `projection_versions`.
    Postgres,
    /// Redis keys under the model's key space; markers in hash `<prefix>:<name>:versions`.
    Redis,
}

/// One read model's entry in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReadModelSpec {
    /// Unique name, `[a-z][a-z0-9_]*`.
    pub name: &'static str,
    /// Where it lives.
    pub store: Store,
    /// The stream categories (aggregates' [`Aggregate::CATEGORY`]) whose events it reads: the
    /// only streams whose consistency tokens it can reach.
    pub categories: &'static [&'static str],
}

/// `customers` (PostgreSQL): customer events.
pub const CUSTOMERS: ReadModelSpec = ReadModelSpec {
    name: "customers",
    store: Store::Postgres,
    categories: &[Customer::CATEGORY],
};

/// `orders` (PostgreSQL): order events.
pub const ORDERS: ReadModelSpec = ReadModelSpec {
    name: "orders",
    store: Store::Postgres,
    categories: &[Order::CATEGORY],
};

/// `payments` (PostgreSQL): payment events.
pub const PAYMENTS: ReadModelSpec = ReadModelSpec {
    name: "payments",
    store: Store::Postgres,
    categories: &[Payment::CATEGORY],
};

/// `inventory_ledger` (PostgreSQL): product events.
pub const INVENTORY_LEDGER: ReadModelSpec = ReadModelSpec {
    name: "inventory_ledger",
    store: Store::Postgres,
    categories: &[Product::CATEGORY],
};

/// `checkouts` (PostgreSQL): the checkout process manager's events.
pub const CHECKOUTS: ReadModelSpec = ReadModelSpec {
    name: "checkouts",
    store: Store::Postgres,
    categories: &[Checkout::CATEGORY],
};

/// `catalog` (Redis): product events.
pub const CATALOG: ReadModelSpec = ReadModelSpec {
    name: "catalog",
    store: Store::Redis,
    categories: &[Product::CATEGORY],
};

/// `cart_view` (Redis): cart events, plus product events for its private SKU copy.
pub const CART_VIEW: ReadModelSpec = ReadModelSpec {
    name: "cart_view",
    store: Store::Redis,
    categories: &[Cart::CATEGORY, Product::CATEGORY],
};

/// Every read model, in the start order of [`super::all`].
pub const ALL: [ReadModelSpec; 7] = [
    CUSTOMERS,
    ORDERS,
    PAYMENTS,
    INVENTORY_LEDGER,
    CHECKOUTS,
    CATALOG,
    CART_VIEW,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Projection;

    #[test]
    fn every_projection_is_registered_with_its_store() {
        let projections = super::super::all();
        assert_eq!(projections.len(), ALL.len());
        for (projection, spec) in projections.iter().zip(ALL) {
            assert_eq!(projection.name(), spec.name);
            assert_eq!(projection.categories(), spec.categories);
            let store = match projection {
                Projection::Postgres(_) => Store::Postgres,
                Projection::Redis(_) => Store::Redis,
            };
            assert_eq!(store, spec.store, "{}", spec.name);
        }
    }

    #[test]
    fn every_followed_category_is_an_aggregates() {
        for spec in ALL {
            for category in spec.categories {
                assert!(aggregates::CATEGORIES.contains(category), "{category}");
            }
        }
    }
}
