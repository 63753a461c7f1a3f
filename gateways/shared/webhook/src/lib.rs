//! The payment provider's callback contract (`docs/payments.md`): the event payloads and the
//! `Commerce-Signature` header.
//!
//! Both sides use this crate: the provider (the simulator, `gateways/payment-provider`) builds
//! [`Event`]s and [`sign`]s them; our webhook (`gateways/http-api`) [`verify`]s the header on the
//! raw body first, then parses the body with [`Event::from_json`], and names the payment
//! command it sends after the event with [`command_id`], so a callback delivered twice is the
//! same command twice.
//!
//! Pure: no I/O, no clock (the caller passes `now`), no async runtime.
#![forbid(unsafe_code)]

mod event;
mod ids;
mod signature;

pub use event::{Event, EventData, EventType, MAX_TEXT_LEN, PayloadError};
pub use ids::{
    CHARGE_NAMESPACE, COMMAND_NAMESPACE, REFUND_NAMESPACE, charge_id, command_id, refund_id,
};
pub use signature::{
    MAX_HEADER_LEN, MAX_SIGNATURES, SIGNATURE_HEADER, SignatureError, SignatureHeader, sign,
    sign_all, verify,
};
