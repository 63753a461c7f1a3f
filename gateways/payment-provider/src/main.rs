//! `commerce-payment-provider`: the payment provider simulator.

fn main() {}
