//! Random cart, order and payment command sequences keep their invariants (cart limits, the
//! order total, refunds within the captured amount), and their events fold and round-trip.

use aggregates::{
    Cart, Currency, CustomerId, Money, Order, OrderId, Payment, PaymentId, ProductId, SkuId,
    cart::{CartCommand, CartState, MAX_LINE_QUANTITY, MAX_LINES},
    order::{OrderCommand, OrderEvent, OrderLine, OrderState, OrderStatus},
    payment::{PaymentCommand, PaymentMethod, PaymentState, PaymentStatus},
};
use proptest::{collection::vec, prelude::*};

use super::{at, run, uuid};

const CUSTOMER: CustomerId = CustomerId(uuid::Uuid::from_u128(7));

fn sku() -> impl Strategy<Value = SkuId> {
    (0u8..4).prop_map(|n| SkuId(uuid(n)))
}

fn price() -> impl Strategy<Value = Money> {
    prop_oneof![
        8 => Just(Money::new(100, Currency::EUR)),
        4 => Just(Money::new(250, Currency::EUR)),
        1 => Just(Money::new(100, Currency::USD)),
        1 => Just(Money::new(0, Currency::EUR)),
    ]
}

fn cart_command() -> impl Strategy<Value = CartCommand> {
    prop_oneof![
        6 => (sku(), 0u32..60, price(), prop::bool::weighted(0.9), 0u32..120).prop_map(
            |(sku_id, quantity, unit_price, sku_active, available_stock)| CartCommand::AddItem {
                customer_id: CUSTOMER,
                product_id: ProductId(uuid(90)),
                sku_id,
                quantity,
                title: "Item".into(),
                unit_price,
                sku_active,
                available_stock,
                at: at(1),
            }
        ),
        3 => (sku(), 0u32..110, 0u32..120).prop_map(|(sku_id, quantity, available_stock)| {
            CartCommand::ChangeQuantity {
                customer_id: CUSTOMER,
                sku_id,
                quantity,
                available_stock,
                at: at(2),
            }
        }),
        2 => sku().prop_map(|sku_id| CartCommand::RemoveItem {
            customer_id: CUSTOMER,
            sku_id,
            at: at(3),
        }),
        1 => Just(CartCommand::Clear { customer_id: CUSTOMER, at: at(4) }),
    ]
}

fn check_cart(state: &CartState) {
    assert!(state.lines.len() <= MAX_LINES);
    assert!(
        state
            .lines
            .iter()
            .all(|line| (1..=MAX_LINE_QUANTITY).contains(&line.quantity))
    );
    // One currency per cart, so the total always exists.
    assert!(state.total().is_ok());
}

fn order_line() -> impl Strategy<Value = OrderLine> {
    (sku(), price(), 0u32..4).prop_map(|(sku_id, unit_price, quantity)| OrderLine {
        product_id: ProductId(uuid(90)),
        sku_id,
        title: "Item".into(),
        unit_price,
        quantity,
    })
}

fn order_command() -> impl Strategy<Value = OrderCommand> {
    prop_oneof![
        2 => vec(order_line(), 0..4).prop_map(|lines| OrderCommand::PlaceOrder {
            order_id: OrderId(uuid(20)),
            customer_id: CUSTOMER,
            lines,
            at: at(0),
        }),
        2 => Just(OrderCommand::MarkStockReserved { at: at(1) }),
        3 => (1i64..12).prop_map(|hundreds| OrderCommand::MarkPaid {
            payment_id: PaymentId(uuid(30)),
            amount: Money::new(hundreds * 100, Currency::EUR),
            at: at(2),
        }),
        2 => Just(OrderCommand::Ship { at: at(3) }),
        1 => Just(OrderCommand::Cancel { reason: "no stock".into(), at: at(4) }),
        1 => Just(OrderCommand::Refund { reason: "damaged".into(), at: at(5) }),
    ]
}

fn check_order(state: &OrderState) {
    let OrderState::Existing(order) = state else {
        return;
    };
    let sum = order
        .lines
        .iter()
        .try_fold(Money::zero(order.total.currency()), |sum, line| {
            sum.checked_add(&line.line_total)
        });
    assert_eq!(sum, Ok(order.total));
    assert!(order.total.is_positive());
    let paid = matches!(
        order.status,
        OrderStatus::Paid | OrderStatus::Shipped | OrderStatus::Refunded
    );
    assert_eq!(paid, order.payment_id.is_some());
}

fn payment_command() -> impl Strategy<Value = PaymentCommand> {
    let method = prop_oneof![Just(PaymentMethod::Balance), Just(PaymentMethod::External)];
    prop_oneof![
        2 => ((0i64..3), method).prop_map(|(amount, method)| PaymentCommand::Initiate {
            payment_id: PaymentId(uuid(30)),
            order_id: OrderId(uuid(20)),
            customer_id: CUSTOMER,
            amount: Money::new(amount * 500, Currency::EUR),
            method,
            at: at(0),
        }),
        2 => Just(PaymentCommand::Capture { provider_reference: None, at: at(1) }),
        1 => Just(PaymentCommand::Fail { reason: "declined".into(), at: at(1) }),
        5 => (0i64..8, price()).prop_map(|(n, unit)| PaymentCommand::Refund {
            amount: Money::new(n * unit.amount_minor(), unit.currency()),
            reason: "returned".into(),
            at: at(2),
        }),
    ]
}

fn check_payment(state: &PaymentState) {
    let PaymentState::Existing(payment) = state else {
        return;
    };
    assert!(payment.amount.is_positive());
    assert!(!payment.refunded.is_negative());
    let left = payment.amount.checked_sub(&payment.refunded).unwrap();
    assert!(!left.is_negative(), "refunded more than captured");
    if payment.refunded.is_positive() {
        assert!(matches!(
            payment.status,
            PaymentStatus::Captured | PaymentStatus::Refunded
        ));
    }
    assert_eq!(
        payment.status == PaymentStatus::Refunded,
        left.amount_minor() == 0
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn cart_limits_hold_for_any_command_sequence(commands in vec(cart_command(), 0..120)) {
        run::<Cart>(commands, |state, _| check_cart(state));
    }

    #[test]
    fn order_total_and_payment_hold_for_any_command_sequence(
        commands in vec(order_command(), 0..40),
    ) {
        run::<Order>(commands, |state, events| {
            check_order(state);
            for event in events {
                if let (OrderEvent::OrderPaid { amount, .. }, OrderState::Existing(order)) =
                    (event, state)
                {
                    assert_eq!(*amount, order.total, "paid a different amount than the total");
                }
            }
        });
    }

    #[test]
    fn refunds_stay_within_the_captured_amount(commands in vec(payment_command(), 0..40)) {
        run::<Payment>(commands, |state, _| check_payment(state));
    }
}
