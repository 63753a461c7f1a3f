//! The checkout process manager (`docs/checkout.md`).
#![forbid(unsafe_code)]
