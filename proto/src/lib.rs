//! The gRPC contracts of the shop, generated from the `.proto` files beside this crate.
//!
//! | module | package | services |
//! |---|---|---|
//! | [`common`] | `commerce.common.v1` | — (`Money`, `CommandResult`) |
//! | [`customer`] | `commerce.customer.v1` | `CustomerCommands` |
//! | [`product`] | `commerce.product.v1` | `ProductCommands`, `ProductStock` |
//! | [`cart`] | `commerce.cart.v1` | `CartCommands` |
//! | [`order`] | `commerce.order.v1` | `OrderCommands` |
//! | [`payment`] | `commerce.payment.v1` | `PaymentCommands` |
//! | [`query`] | `commerce.query.v1` | `CatalogQueries`, `CustomerQueries`, `CartQueries`, `OrderQueries`, `PaymentQueries`, `CheckoutQueries` |
//! | [`audit`] | `commerce.audit.v1` | `AuditQueries` |
//!
//! [`FILE_DESCRIPTOR_SET`] describes all of them, for gRPC server reflection. The servers decode
//! requests with [`codec::RequestCodec`]: bytes that are not the request message are
//! `INVALID_ARGUMENT`, not tonic's `INTERNAL`. [`contract`] holds
//! the conventions of the query wire that the messages do not carry (the error-reason trailer,
//! `not_yet_consistent`, the default consistency wait).
#![forbid(unsafe_code)]

pub mod codec;
pub mod contract;

/// Generated code, nested as the protobuf packages are (generated code refers to other packages
/// by relative paths such as `super::super::super::common::v1`).
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod commerce {
    pub mod common {
        pub mod v1 {
            tonic::include_proto!("commerce.common.v1");
        }
    }
    pub mod customer {
        pub mod v1 {
            tonic::include_proto!("commerce.customer.v1");
            include!(concat!(env!("OUT_DIR"), "/clients/commerce.customer.v1.rs"));
        }
    }
    pub mod product {
        pub mod v1 {
            tonic::include_proto!("commerce.product.v1");
            include!(concat!(env!("OUT_DIR"), "/clients/commerce.product.v1.rs"));
        }
    }
    pub mod cart {
        pub mod v1 {
            tonic::include_proto!("commerce.cart.v1");
            include!(concat!(env!("OUT_DIR"), "/clients/commerce.cart.v1.rs"));
        }
    }
    pub mod order {
        pub mod v1 {
            tonic::include_proto!("commerce.order.v1");
            include!(concat!(env!("OUT_DIR"), "/clients/commerce.order.v1.rs"));
        }
    }
    pub mod payment {
        pub mod v1 {
            tonic::include_proto!("commerce.payment.v1");
            include!(concat!(env!("OUT_DIR"), "/clients/commerce.payment.v1.rs"));
        }
    }
    pub mod query {
        pub mod v1 {
            tonic::include_proto!("commerce.query.v1");
            include!(concat!(env!("OUT_DIR"), "/clients/commerce.query.v1.rs"));
        }
    }
    pub mod audit {
        pub mod v1 {
            tonic::include_proto!("commerce.audit.v1");
            include!(concat!(env!("OUT_DIR"), "/clients/commerce.audit.v1.rs"));
        }
    }
}

pub use commerce::{
    audit::v1 as audit, cart::v1 as cart, common::v1 as common, customer::v1 as customer,
    order::v1 as order, payment::v1 as payment, product::v1 as product, query::v1 as query,
};

/// Encoded `FileDescriptorSet` of every package above, for `tonic-reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("commerce_descriptor");

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn descriptor_set_names_every_service() {
        let set = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap();
        let services: Vec<String> = set
            .file
            .iter()
            .flat_map(|file| {
                file.service
                    .iter()
                    .map(move |service| format!("{}.{}", file.package(), service.name()))
            })
            .collect();
        for service in [
            "commerce.customer.v1.CustomerCommands",
            "commerce.product.v1.ProductCommands",
            "commerce.query.v1.CatalogQueries",
            "commerce.query.v1.CustomerQueries",
            "commerce.query.v1.CartQueries",
            "commerce.query.v1.OrderQueries",
            "commerce.query.v1.PaymentQueries",
            "commerce.query.v1.CheckoutQueries",
            "commerce.audit.v1.AuditQueries",
            "commerce.product.v1.ProductStock",
            "commerce.cart.v1.CartCommands",
            "commerce.order.v1.OrderCommands",
            "commerce.payment.v1.PaymentCommands",
        ] {
            assert!(services.iter().any(|s| s == service), "{service} missing");
        }
    }

    #[test]
    fn money_round_trips_through_the_wire_format() {
        let money = common::Money {
            amount_minor: 1999,
            currency: "EUR".into(),
        };
        let decoded = common::Money::decode(money.encode_to_vec().as_slice()).unwrap();
        assert_eq!(decoded, money);
    }
}
