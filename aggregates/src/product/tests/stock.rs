//! Stock: restock, reserve, release and commit.

use super::*;

#[test]
fn restock_carries_the_new_levels() {
    given(with_reservation())
        .when(restock(SHIRT_M, 4))
        .then([restocked(SHIRT_M, 4, 14, 3)]);
}

#[test]
fn restock_rejects_zero_unknown_and_discontinued_skus() {
    given(stocked())
        .when(restock(SHIRT_M, 0))
        .then_error(DomainError::InvalidQuantity {
            field: "quantity",
            quantity: 0,
            min: 1,
            max: u32::MAX,
        });
    given(stocked())
        .when(restock(UNKNOWN, 1))
        .then_error(DomainError::NotFound {
            entity: "sku",
            id: UNKNOWN.to_string(),
        });
    let mut history = stocked();
    history.push(sku_discontinued(SHIRT_M));
    given(history)
        .when(restock(SHIRT_M, 1))
        .then_error(inactive_sku(SHIRT_M));
}

#[test]
fn restock_that_overflows_is_rejected() {
    given([
        created(),
        sku_added(SHIRT_M),
        restocked(SHIRT_M, u32::MAX, u32::MAX, 0),
    ])
    .when(restock(SHIRT_M, 1))
    .then_error(DomainError::Overflow {
        what: "stock on hand",
    });
}

#[test]
fn reserve_holds_every_line_and_carries_the_new_levels() {
    let state = given(stocked())
        .when(reserve(ORDER_1, &[(SHIRT_M, 3), (SHIRT_L, 2)]))
        .then([reserved(
            ORDER_1,
            vec![change(SHIRT_M, 3, 10, 3), change(SHIRT_L, 2, 5, 2)],
        )]);
    let ProductState::Created(product) = state else {
        panic!("not created")
    };
    assert_eq!(product.skus[&SHIRT_M].available(), 7);
    assert_eq!(
        product.reservations[&ORDER_1].status,
        ReservationStatus::Open
    );
}

#[test]
fn reserve_is_all_or_nothing_when_one_line_lacks_stock() {
    given(stocked())
        .when(reserve(ORDER_1, &[(SHIRT_M, 3), (SHIRT_L, 6)]))
        .then_error(DomainError::InsufficientStock {
            sku_id: SHIRT_L,
            available: 5,
            requested: 6,
        });
}

#[test]
fn reserve_counts_stock_held_by_other_reservations() {
    let error = given(with_reservation())
        .when(reserve(ORDER_2, &[(SHIRT_M, 8)]))
        .result()
        .unwrap_err();
    assert_eq!(
        error,
        DomainError::InsufficientStock {
            sku_id: SHIRT_M,
            available: 7,
            requested: 8,
        }
    );
    assert_eq!(error.kind(), ErrorKind::FailedPrecondition);
}

#[test]
fn reserve_with_a_used_reservation_id_is_already_exists() {
    let mut history = with_reservation();
    history.push(ProductEvent::StockReleased {
        product_id: PRODUCT,
        reservation_id: ORDER_1,
        items: vec![change(SHIRT_M, 3, 10, 0), change(SHIRT_L, 2, 5, 0)],
        at: at(4),
    });
    given(history)
        .when(reserve(ORDER_1, &[(SHIRT_M, 1)]))
        .then_error(DomainError::AlreadyExists {
            entity: "reservation",
            id: ORDER_1.to_string(),
        });
}

#[test]
fn reserve_rejects_discontinued_skus_and_products() {
    let mut history = stocked();
    history.push(sku_discontinued(SHIRT_L));
    given(history)
        .when(reserve(ORDER_1, &[(SHIRT_M, 1), (SHIRT_L, 1)]))
        .then_error(inactive_sku(SHIRT_L));
    let mut history = stocked();
    history.push(product_discontinued(vec![SHIRT_M, SHIRT_L]));
    given(history)
        .when(reserve(ORDER_1, &[(SHIRT_M, 1)]))
        .then_error(inactive_product());
}

#[test]
fn reserve_rejects_malformed_items() {
    given(stocked())
        .when(reserve(ORDER_1, &[]))
        .then_error(DomainError::Invalid {
            field: "items",
            reason: "must not be empty",
        });
    given(stocked())
        .when(reserve(ORDER_1, &[(SHIRT_M, 1), (SHIRT_M, 1)]))
        .then_error(DomainError::Invalid {
            field: "items",
            reason: "must not repeat a sku",
        });
    given(stocked())
        .when(reserve(ORDER_1, &[(SHIRT_M, 0)]))
        .then_error(DomainError::InvalidQuantity {
            field: "quantity",
            quantity: 0,
            min: 1,
            max: u32::MAX,
        });
    given(stocked())
        .when(reserve(ORDER_1, &[(UNKNOWN, 1)]))
        .then_error(DomainError::NotFound {
            entity: "sku",
            id: UNKNOWN.to_string(),
        });
}

#[test]
fn release_gives_the_stock_back() {
    given(with_reservation())
        .when(release(ORDER_1))
        .then([ProductEvent::StockReleased {
            product_id: PRODUCT,
            reservation_id: ORDER_1,
            items: vec![change(SHIRT_M, 3, 10, 0), change(SHIRT_L, 2, 5, 0)],
            at: at(4),
        }]);
}

#[test]
fn commit_takes_the_items_out_of_stock() {
    let state =
        given(with_reservation())
            .when(commit(ORDER_1))
            .then([ProductEvent::StockCommitted {
                product_id: PRODUCT,
                reservation_id: ORDER_1,
                items: vec![change(SHIRT_M, 3, 7, 0), change(SHIRT_L, 2, 3, 0)],
                at: at(4),
            }]);
    let ProductState::Created(product) = state else {
        panic!("not created")
    };
    assert_eq!(
        product.reservations[&ORDER_1].status,
        ReservationStatus::Committed
    );
}

#[test]
fn a_reservation_resolves_exactly_once() {
    let released = given(with_reservation())
        .when(release(ORDER_1))
        .result()
        .unwrap();
    let committed = given(with_reservation())
        .when(commit(ORDER_1))
        .result()
        .unwrap();
    for (resolved, resolution) in [(released, "released"), (committed, "committed")] {
        let history: Vec<_> = with_reservation().into_iter().chain(resolved).collect();
        for command in [release(ORDER_1), commit(ORDER_1)] {
            given(history.clone())
                .when(command)
                .then_error(DomainError::ReservationResolved {
                    reservation_id: ORDER_1,
                    resolution,
                });
        }
    }
}

#[test]
fn resolving_an_unknown_reservation_is_not_found() {
    for command in [release(ORDER_2), commit(ORDER_2)] {
        given(with_reservation())
            .when(command)
            .then_error(DomainError::NotFound {
                entity: "reservation",
                id: ORDER_2.to_string(),
            });
    }
}

#[test]
fn reservations_taken_before_discontinuing_still_resolve() {
    let mut history = with_reservation();
    history.push(product_discontinued(vec![SHIRT_M, SHIRT_L]));
    let events = given(history).when(commit(ORDER_1)).result().unwrap();
    assert_eq!(events.len(), 1);
}

fn return_stock(reservation_id: ReservationId) -> ProductCommand {
    ProductCommand::ReturnStock {
        reservation_id,
        at: at(5),
    }
}

#[test]
fn return_puts_a_committed_reservation_back_on_hand_once() {
    let mut history = with_reservation();
    history.extend(
        given(with_reservation())
            .when(commit(ORDER_1))
            .result()
            .unwrap(),
    );
    let returned =
        given(history.clone())
            .when(return_stock(ORDER_1))
            .then([ProductEvent::StockReturned {
                product_id: PRODUCT,
                reservation_id: ORDER_1,
                items: vec![change(SHIRT_M, 3, 10, 0), change(SHIRT_L, 2, 5, 0)],
                at: at(5),
            }]);
    let ProductState::Created(product) = returned else {
        panic!("not created")
    };
    assert_eq!(
        product.reservations[&ORDER_1].status,
        ReservationStatus::Returned
    );
    history.extend(
        given(history.clone())
            .when(return_stock(ORDER_1))
            .result()
            .unwrap(),
    );
    given(history)
        .when(return_stock(ORDER_1))
        .then_error(DomainError::IllegalTransition {
            entity: "reservation",
            status: "returned",
            action: "return",
        });
}

#[test]
fn only_a_committed_reservation_can_be_returned() {
    given(with_reservation())
        .when(return_stock(ORDER_1))
        .then_error(DomainError::IllegalTransition {
            entity: "reservation",
            status: "open",
            action: "return",
        });
    given(with_reservation())
        .when(return_stock(ORDER_2))
        .then_error(DomainError::NotFound {
            entity: "reservation",
            id: ORDER_2.to_string(),
        });
}
