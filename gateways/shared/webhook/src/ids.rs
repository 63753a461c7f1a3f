//! Deterministic names: a payment's charge, a refund, and the payment command a callback
//! becomes. Each is a UUIDv5 under a namespace of its own, fixed forever: changing one would
//! rename every charge (the process manager names the charge of a payment without asking the
//! provider) or let an old callback through the dedupe as a new command.

use uuid::Uuid;

/// Namespace of charge ids: `ch_` + UUIDv5(this, payment id).
pub const CHARGE_NAMESPACE: Uuid = Uuid::from_u128(0x336a_e933_881c_4e25_bb2a_a839_dc0a_ba94);
/// Namespace of refund ids: `re_` + UUIDv5(this, the refund's idempotency key).
pub const REFUND_NAMESPACE: Uuid = Uuid::from_u128(0x031d_a9fd_2382_4f7d_bd7b_0efd_fc36_2fb9);
/// Namespace of the command ids our webhook derives from the provider's event ids.
pub const COMMAND_NAMESPACE: Uuid = Uuid::from_u128(0x2051_5160_4d28_4514_94fa_2a2c_54ef_55bc);

/// The charge of payment `payment_id`: `ch_` + UUIDv5([`CHARGE_NAMESPACE`], payment id).
pub fn charge_id(payment_id: Uuid) -> String {
    format!(
        "ch_{}",
        Uuid::new_v5(&CHARGE_NAMESPACE, payment_id.as_bytes())
    )
}

/// The refund created with `idempotency_key`: `re_` + UUIDv5([`REFUND_NAMESPACE`], key). A
/// charge may be refunded in parts, so the key (one per intended refund), not the payment,
/// names it.
pub fn refund_id(idempotency_key: Uuid) -> String {
    format!(
        "re_{}",
        Uuid::new_v5(&REFUND_NAMESPACE, idempotency_key.as_bytes())
    )
}

/// The payment command's id for the provider's event `event_id`: UUIDv5([`COMMAND_NAMESPACE`],
/// event id). A callback delivered again (a retry, a duplicate) carries the same event id, so it
/// becomes the same command, which the payment service answers from its stored result.
pub fn command_id(event_id: &str) -> Uuid {
    Uuid::new_v5(&COMMAND_NAMESPACE, event_id.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_prefixed_and_distinct_per_input() {
        let payment = Uuid::from_u128(1);
        assert_eq!(charge_id(payment), charge_id(payment));
        assert_ne!(charge_id(payment), charge_id(Uuid::from_u128(2)));
        assert!(charge_id(payment).starts_with("ch_"));
        assert!(Uuid::parse_str(&charge_id(payment)[3..]).is_ok());
        assert!(refund_id(payment).starts_with("re_"));
        assert_ne!(charge_id(payment)[3..], refund_id(payment)[3..]);
        assert_eq!(command_id("evt_1"), command_id("evt_1"));
        assert_ne!(command_id("evt_1"), command_id("evt_2"));
        assert_eq!(command_id("evt_1").get_version_num(), 5);
    }

    #[test]
    fn the_names_never_change() {
        // Pinned values, computed independently (Python's uuid5 over the same bytes): a change
        // here renames every charge and lets old callbacks through as new commands.
        assert_eq!(
            charge_id(Uuid::nil()),
            "ch_90d46995-a4b8-5193-8f41-7fb001a58fb2"
        );
        assert_eq!(
            refund_id(Uuid::nil()),
            "re_82d03b2c-0b32-5837-bb7d-7072a111c0b5"
        );
        assert_eq!(
            command_id("evt_1").to_string(),
            "4d1c044b-8016-518b-aec5-36729a7a96c8"
        );
    }
}
