//! `commerce-checkout`: the checkout process manager.

fn main() {}
