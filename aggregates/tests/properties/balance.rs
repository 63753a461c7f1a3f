//! Random customer command sequences never make the balance negative.

use aggregates::{
    Currency, Customer, CustomerId, Money, PaymentId,
    customer::{CustomerCommand, CustomerEvent, CustomerState},
};
use proptest::{collection::vec, prelude::*};

use super::{at, run, uuid};

fn currency() -> impl Strategy<Value = Currency> {
    prop_oneof![4 => Just(Currency::USD), 1 => Just(Currency::EUR)]
}

fn amount() -> impl Strategy<Value = Money> {
    (-5i64..2000, currency()).prop_map(|(amount, currency)| Money::new(amount, currency))
}

fn command() -> impl Strategy<Value = CustomerCommand> {
    prop_oneof![
        1 => currency().prop_map(|currency| CustomerCommand::Register {
            customer_id: CustomerId(uuid(0)),
            email: "ada@example.com".into(),
            name: "Ada".into(),
            currency,
            at: at(0),
        }),
        1 => prop_oneof![Just("Ada"), Just("Ada L."), Just(" ")].prop_map(|name| {
            CustomerCommand::UpdateProfile {
                email: "ada@example.com".into(),
                name: name.into(),
                at: at(1),
            }
        }),
        6 => amount().prop_map(|amount| CustomerCommand::DepositBalance { amount, at: at(2) }),
        8 => ((0u8..6), amount()).prop_map(|(payment, amount)| CustomerCommand::DebitBalance {
            payment_id: PaymentId(uuid(50 + payment)),
            amount,
            at: at(3),
        }),
        // Rare: it freezes the account.
        1 => (0u8..8).prop_filter_map("rare", |n| {
            (n == 0).then(|| CustomerCommand::Deactivate { at: at(4) })
        }),
    ]
}

fn check(state: &CustomerState, events: &[CustomerEvent]) {
    let CustomerState::Registered(account) = state else {
        return;
    };
    assert!(
        !account.balance.is_negative(),
        "negative balance {}",
        account.balance
    );
    // The balance is exactly deposits minus debits, in the account's currency.
    let mut expected = Money::zero(account.balance.currency());
    for event in events {
        match event {
            CustomerEvent::BalanceDeposited { amount, .. } => {
                assert!(amount.is_positive());
                expected = expected.checked_add(amount).unwrap();
            }
            CustomerEvent::BalanceDebited { amount, .. } => {
                assert!(amount.is_positive());
                expected = expected.checked_sub(amount).unwrap();
            }
            _ => {}
        }
    }
    assert_eq!(account.balance, expected);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn balance_never_goes_negative(
        currency in currency(),
        mut commands in vec(command(), 0..80),
    ) {
        commands.insert(0, CustomerCommand::Register {
            customer_id: CustomerId(uuid(0)),
            email: "ada@example.com".into(),
            name: "Ada".into(),
            currency,
            at: at(0),
        });
        run::<Customer>(commands, check);
    }
}
