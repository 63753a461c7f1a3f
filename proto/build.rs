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
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("commerce_descriptor.bin"))
        .compile_protos(PROTOS, &["."])?;
    Ok(())
}
