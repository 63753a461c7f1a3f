//! The checkout story every read model test replays: two customers, five products, a cart,
//! three orders (shipped; cancelled after a failed payment; paid then refunded) and their
//! payments and stock movements, all decided by the aggregates and appended to a real log.

use std::collections::BTreeMap;

use aggregates::{
    Cart, Currency, Customer, CustomerId, Money, Order, OrderId, Payment, PaymentId, Product,
    ProductId, SkuId,
    cart::CartCommand,
    customer::CustomerCommand,
    order::{OrderCommand, OrderLine},
    payment::{PaymentCommand, PaymentMethod},
    product::{ProductCommand, StockLine},
};

use super::{Log, Stream, id, t};

/// `minor` euro cents.
pub fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::EUR)
}

/// The ids of the story and the number of events appended at the end of each phase.
pub struct Story {
    /// Has the cart and the three orders; deposits 200.00, pays 154.97 from her balance.
    pub alice: CustomerId,
    /// Registered, then deactivated; buys nothing.
    pub bob: CustomerId,
    /// Trail Shoe: SKUs `s1` and `s2`.
    pub shoe: ProductId,
    /// Rain Jacket: SKU `s3`.
    pub jacket: ProductId,
    /// Alpine Tent: SKU `s4`; discontinued while in the cart.
    pub tent: ProductId,
    /// Trail Vest: no SKU.
    pub vest: ProductId,
    /// rain hat (lower case): no SKU.
    pub hat: ProductId,
    /// Shoe, size 42, 49.99.
    pub s1: SkuId,
    /// Shoe, size 43, 54.99.
    pub s2: SkuId,
    /// Jacket, 89.99.
    pub s3: SkuId,
    /// Tent, 199.00 (discontinued).
    pub s4: SkuId,
    /// Shipped: 2 × s1 + 1 × s2 = 154.97, paid from the balance.
    pub o1: OrderId,
    /// Cancelled after its external payment failed: 2 × s2.
    pub o2: OrderId,
    /// Paid externally, refunded in two parts: 1 × s3.
    pub o3: OrderId,
    /// Order 1's payment: from the balance, captured.
    pub pay1: PaymentId,
    /// Order 2's payment: external, failed.
    pub pay2: PaymentId,
    /// Order 3's payment: external, captured, refunded in two parts.
    pub pay3: PaymentId,
    /// Events in the log after each phase: `cart_filled`, `tent_discontinued`, `o1_shipped`,
    /// `o2_reserved`, `o2_cancelled`, `end`.
    pub marks: BTreeMap<&'static str, usize>,
}

async fn product(
    log: &mut Log,
    product_id: ProductId,
    title: &str,
    skus: &[(SkuId, i64, &str, u32)],
) -> Stream<Product> {
    let mut stream = Stream::<Product>::new(&product_id);
    let create = ProductCommand::CreateProduct {
        product_id,
        title: title.to_owned(),
        description: format!("{title}, as sold in the story"),
        at: t(1),
    };
    stream.run(log, create).await;
    for &(sku_id, price, size, stock) in skus {
        let attributes = BTreeMap::from([("size".to_owned(), size.to_owned())]);
        let add = ProductCommand::AddSku {
            sku_id,
            price: eur(price),
            attributes,
            at: t(2),
        };
        stream.run(log, add).await;
        if stock > 0 {
            let restock = ProductCommand::RestockSku {
                sku_id,
                quantity: stock,
                at: t(3),
            };
            stream.run(log, restock).await;
        }
    }
    stream
}

fn line(product_id: ProductId, sku_id: SkuId, title: &str, price: i64, quantity: u32) -> OrderLine {
    OrderLine {
        product_id,
        sku_id,
        title: title.to_owned(),
        unit_price: eur(price),
        quantity,
    }
}

/// Writes the whole story into `log`.
pub async fn write(log: &mut Log) -> Story {
    let s = Story {
        alice: id(),
        bob: id(),
        shoe: id(),
        jacket: id(),
        tent: id(),
        vest: id(),
        hat: id(),
        s1: id(),
        s2: id(),
        s3: id(),
        s4: id(),
        o1: id(),
        o2: id(),
        o3: id(),
        pay1: id(),
        pay2: id(),
        pay3: id(),
        marks: BTreeMap::new(),
    };
    let mut marks = BTreeMap::new();

    let mut alice = Stream::<Customer>::new(&s.alice);
    let register = |customer_id, name: &str| CustomerCommand::Register {
        customer_id,
        email: format!("{}@example.com", name.to_lowercase()),
        name: name.to_owned(),
        currency: Currency::EUR,
        at: t(0),
    };
    alice.run(log, register(s.alice, "Alice")).await;
    let update = CustomerCommand::UpdateProfile {
        email: "alice@example.org".to_owned(),
        name: "Alice Liddell".to_owned(),
        at: t(1),
    };
    alice.run(log, update).await;
    let deposit = CustomerCommand::DepositBalance {
        amount: eur(20_000),
        at: t(2),
    };
    alice.run(log, deposit).await;
    let mut bob = Stream::<Customer>::new(&s.bob);
    bob.run(log, register(s.bob, "Bob")).await;

    let skus = [(s.s1, 4999, "42", 10), (s.s2, 5499, "43", 3)];
    let mut shoe = product(log, s.shoe, "Trail Shoe", &skus).await;
    let mut jacket = product(log, s.jacket, "Rain Jacket", &[(s.s3, 8999, "M", 5)]).await;
    let mut tent = product(log, s.tent, "Alpine Tent", &[(s.s4, 19900, "2p", 2)]).await;
    product(log, s.vest, "Trail Vest", &[]).await;
    product(log, s.hat, "rain hat", &[]).await;

    let mut cart = Stream::<Cart>::new(&s.alice);
    let add = |product_id, sku_id, title: &str, price, quantity| CartCommand::AddItem {
        customer_id: s.alice,
        product_id,
        sku_id,
        quantity,
        title: title.to_owned(),
        unit_price: eur(price),
        sku_active: true,
        available_stock: 10,
        at: t(10),
    };
    cart.run(log, add(s.shoe, s.s1, "Trail Shoe 42", 4999, 2))
        .await;
    cart.run(log, add(s.shoe, s.s2, "Trail Shoe 43", 5499, 1))
        .await;
    cart.run(log, add(s.jacket, s.s3, "Rain Jacket M", 8999, 1))
        .await;
    let change = CartCommand::ChangeQuantity {
        customer_id: s.alice,
        sku_id: s.s1,
        quantity: 3,
        available_stock: 10,
        at: t(11),
    };
    cart.run(log, change).await;
    let remove = CartCommand::RemoveItem {
        customer_id: s.alice,
        sku_id: s.s3,
        at: t(12),
    };
    cart.run(log, remove).await;
    cart.run(log, add(s.tent, s.s4, "Alpine Tent 2p", 19900, 1))
        .await;
    marks.insert("cart_filled", log.appended);

    tent.run(log, ProductCommand::DiscontinueProduct { at: t(13) })
        .await;
    marks.insert("tent_discontinued", log.appended);

    // Order 1: reserved, paid from the balance, shipped.
    let mut o1 = Stream::<Order>::new(&s.o1);
    let lines = vec![
        line(s.shoe, s.s1, "Trail Shoe 42", 4999, 2),
        line(s.shoe, s.s2, "Trail Shoe 43", 5499, 1),
    ];
    let place = OrderCommand::PlaceOrder {
        order_id: s.o1,
        customer_id: s.alice,
        lines,
        at: t(20),
    };
    o1.run(log, place).await;
    let reserve =
        |reservation: OrderId, items: Vec<(SkuId, u32)>, at| ProductCommand::ReserveStock {
            reservation_id: reservation.into(),
            items: items
                .into_iter()
                .map(|(sku_id, quantity)| StockLine { sku_id, quantity })
                .collect(),
            at,
        };
    shoe.run(log, reserve(s.o1, vec![(s.s1, 2), (s.s2, 1)], t(21)))
        .await;
    o1.run(log, OrderCommand::MarkStockReserved { at: t(21) })
        .await;
    let mut pay1 = Stream::<Payment>::new(&s.pay1);
    let initiate = |payment_id, order_id, amount, method| PaymentCommand::Initiate {
        payment_id,
        order_id,
        customer_id: s.alice,
        amount: eur(amount),
        method,
        at: t(22),
    };
    pay1.run(log, initiate(s.pay1, s.o1, 15_497, PaymentMethod::Balance))
        .await;
    let debit = CustomerCommand::DebitBalance {
        payment_id: s.pay1,
        amount: eur(15_497),
        at: t(22),
    };
    alice.run(log, debit).await;
    let capture = |reference: Option<&str>, at| PaymentCommand::Capture {
        provider_reference: reference.map(str::to_owned),
        at,
    };
    pay1.run(log, capture(None, t(23))).await;
    let paid = |payment_id, amount, at| OrderCommand::MarkPaid {
        payment_id,
        amount: eur(amount),
        at,
    };
    o1.run(log, paid(s.pay1, 15_497, t(23))).await;
    let commit = ProductCommand::CommitStock {
        reservation_id: s.o1.into(),
        at: t(24),
    };
    shoe.run(log, commit).await;
    o1.run(log, OrderCommand::Ship { at: t(25) }).await;
    marks.insert("o1_shipped", log.appended);

    // Order 2: takes the last two shoes of size 43, payment fails, cancelled, stock released.
    let mut o2 = Stream::<Order>::new(&s.o2);
    let place = OrderCommand::PlaceOrder {
        order_id: s.o2,
        customer_id: s.alice,
        lines: vec![line(s.shoe, s.s2, "Trail Shoe 43", 5499, 2)],
        at: t(30),
    };
    o2.run(log, place).await;
    shoe.run(log, reserve(s.o2, vec![(s.s2, 2)], t(31))).await;
    o2.run(log, OrderCommand::MarkStockReserved { at: t(31) })
        .await;
    marks.insert("o2_reserved", log.appended);
    let mut pay2 = Stream::<Payment>::new(&s.pay2);
    pay2.run(log, initiate(s.pay2, s.o2, 10_998, PaymentMethod::External))
        .await;
    let fail = PaymentCommand::Fail {
        reason: "card declined".to_owned(),
        at: t(32),
    };
    pay2.run(log, fail).await;
    let cancel = OrderCommand::Cancel {
        reason: "payment failed".to_owned(),
        at: t(33),
    };
    o2.run(log, cancel).await;
    let release = |reservation: OrderId, at| ProductCommand::ReleaseStock {
        reservation_id: reservation.into(),
        at,
    };
    shoe.run(log, release(s.o2, t(33))).await;
    marks.insert("o2_cancelled", log.appended);

    // Order 3: paid externally, refunded in two parts, then the order is refunded.
    let mut o3 = Stream::<Order>::new(&s.o3);
    let place = OrderCommand::PlaceOrder {
        order_id: s.o3,
        customer_id: s.alice,
        lines: vec![line(s.jacket, s.s3, "Rain Jacket M", 8999, 1)],
        at: t(40),
    };
    o3.run(log, place).await;
    jacket.run(log, reserve(s.o3, vec![(s.s3, 1)], t(41))).await;
    o3.run(log, OrderCommand::MarkStockReserved { at: t(41) })
        .await;
    let mut pay3 = Stream::<Payment>::new(&s.pay3);
    pay3.run(log, initiate(s.pay3, s.o3, 8_999, PaymentMethod::External))
        .await;
    pay3.run(log, capture(Some("psp-123"), t(42))).await;
    o3.run(log, paid(s.pay3, 8_999, t(42))).await;
    for (amount, reason, at) in [(4_000, "damaged box", t(43)), (4_999, "returned", t(44))] {
        let refund = PaymentCommand::Refund {
            amount: eur(amount),
            reason: reason.to_owned(),
            at,
        };
        pay3.run(log, refund).await;
    }
    let refund = OrderCommand::Refund {
        reason: "customer returned it".to_owned(),
        at: t(44),
    };
    o3.run(log, refund).await;
    jacket.run(log, release(s.o3, t(45))).await;

    bob.run(log, CustomerCommand::Deactivate { at: t(50) })
        .await;
    marks.insert("end", log.appended);
    Story { marks, ..s }
}
