//! The payment provider's webhook against a real payment command service over a fresh event
//! log, the gateway served on a free port: signed callbacks capture, fail and refund external
//! payments exactly once; forged, stale, malformed or late ones change nothing (the payment
//! stream's events are counted); and the provider simulator driving it end to end.

mod effects;
mod harness;
mod signatures;
mod simulator;
