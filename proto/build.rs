//! Generates the message types, clients and servers of every `.proto` file in this folder, and
//! a file descriptor set for server reflection. Needs `protoc` (scripts/setup installs it).

use std::{env, path::PathBuf};

const PROTOS: &[&str] = &[
    "common.proto",
    "customer.proto",
    "product.proto",
    "cart.proto",
    "order.proto",
    "payment.proto",
    "query.proto",
];

/// With the `json` feature, what the HTTP gateway serves as JSON: the query messages and Money.
const JSON_TYPES: &[&str] = &[".commerce.query.v1", ".commerce.common.v1.Money"];
const JSON_DERIVE: &str =
    "#[cfg_attr(feature = \"json\", derive(serde::Serialize, utoipa::ToSchema))]";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    let mut config = tonic_prost_build::configure();
    for path in JSON_TYPES {
        config = config.message_attribute(path, JSON_DERIVE);
    }
    // Canonical messages: a request re-encoded by prost must give the same bytes every time, so
    // that its hash identifies the request (the command fingerprint, docs/command-fingerprints.md).
    // Maps as `BTreeMap` encode their entries in key order (a `HashMap` would not), and type names
    // give every message its stable protobuf name (`prost::Name::full_name`).
    let mut prost = tonic_prost_build::Config::new();
    prost.btree_map(["."]).enable_type_names();
    config
        .file_descriptor_set_path(out_dir.join("commerce_descriptor.bin"))
        .compile_with_config(prost, PROTOS, &["."])?;
    Ok(())
}
