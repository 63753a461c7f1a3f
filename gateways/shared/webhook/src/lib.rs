//! The payment provider's callback contract (`docs/payments.md`): the event payloads and the
//! `Commerce-Signature` header.
#![forbid(unsafe_code)]
