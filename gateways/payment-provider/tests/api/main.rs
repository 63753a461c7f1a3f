//! The simulator over real HTTP on 127.0.0.1: charges and refunds answered by signed callbacks to
//! a test receiver ([`helpers::Receiver`]), the scripts, retries, idempotency and refusals.

mod charges;
mod errors;
mod helpers;
mod refunds;
mod retries;
