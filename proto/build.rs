//! Generates the message types, clients and servers of every `.proto` file in this folder, and
//! a file descriptor set for server reflection. Needs `protoc` (scripts/setup installs it).
//!
//! Two runs: the messages and servers, whose codec is `crate::codec::RequestCodec` (a request
//! that does not decode is the caller's error, `INVALID_ARGUMENT`), then the clients alone over
//! those messages (`extern_path`) with tonic's own codec (an answer that does not decode is the
//! server's fault, `INTERNAL`). tonic-build takes one codec per run, hence the two.

use std::{env, path::PathBuf};

const PROTOS: &[&str] = &[
    "common.proto",
    "customer.proto",
    "product.proto",
    "cart.proto",
    "order.proto",
    "payment.proto",
    "query.proto",
    "audit.proto",
];

/// With the `json` feature, what the HTTP gateway serves as JSON: the query and audit messages
/// and Money.
const JSON_TYPES: &[&str] = &[
    ".commerce.query.v1",
    ".commerce.audit.v1",
    ".commerce.common.v1.Money",
];
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
        .build_client(false)
        .codec_path("crate::codec::RequestCodec")
        .file_descriptor_set_path(out_dir.join("commerce_descriptor.bin"))
        .compile_with_config(prost, PROTOS, &["."])?;
    let clients = out_dir.join("clients");
    std::fs::create_dir_all(&clients)?;
    tonic_prost_build::configure()
        .build_server(false)
        .extern_path(".commerce", "crate::commerce")
        .out_dir(&clients)
        .compile_protos(PROTOS, &["."])?;
    Ok(())
}
