//! A payment provider simulator (`docs/payments.md`).
#![forbid(unsafe_code)]
