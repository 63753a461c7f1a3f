//! Typed identifiers: one UUID newtype per kind of thing, so an order id cannot be passed where a
//! payment id is expected. They serialize as plain UUID strings.
//!
//! Ids are always chosen by the caller (carried in commands), never generated here.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            /// The hyphenated UUID, as used in stream ids.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// Identifies a customer; also identifies that customer's cart (one cart per customer).
    CustomerId
);
id_type!(
    /// Identifies a product (the stream that also holds its SKUs and their stock).
    ProductId
);
id_type!(
    /// Identifies a SKU (a purchasable variant of a product). Unique across all products.
    SkuId
);
id_type!(
    /// Identifies an order.
    OrderId
);
id_type!(
    /// Identifies a payment.
    PaymentId
);
id_type!(
    /// Identifies a stock reservation inside one product; usually the order id (see
    /// `From<OrderId>`).
    ReservationId
);

impl From<OrderId> for ReservationId {
    fn from(order_id: OrderId) -> Self {
        Self(order_id.0)
    }
}
