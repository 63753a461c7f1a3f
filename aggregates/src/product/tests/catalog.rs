//! Product and SKU lifecycle: create, add SKUs, discontinue, and event storage.

use super::*;

#[test]
fn create_product_records_the_trimmed_title() {
    given([])
        .when(ProductCommand::CreateProduct {
            product_id: PRODUCT,
            title: " Shirt ".into(),
            description: "Cotton".into(),
            at: at(0),
        })
        .then([created()]);
}

#[test]
fn create_product_twice_is_already_exists() {
    given([created()])
        .when(ProductCommand::CreateProduct {
            product_id: PRODUCT,
            title: "Shirt".into(),
            description: String::new(),
            at: at(0),
        })
        .then_error(DomainError::AlreadyExists {
            entity: "product",
            id: PRODUCT.to_string(),
        });
}

#[test]
fn create_product_needs_a_title() {
    given([])
        .when(ProductCommand::CreateProduct {
            product_id: PRODUCT,
            title: "".into(),
            description: String::new(),
            at: at(0),
        })
        .then_error(DomainError::Invalid {
            field: "title",
            reason: "must not be empty",
        });
}

#[test]
fn commands_before_create_are_not_found() {
    for command in [
        add_sku(SHIRT_M, eur(1)),
        restock(SHIRT_M, 1),
        reserve(ORDER_1, &[(SHIRT_M, 1)]),
        release(ORDER_1),
        ProductCommand::DiscontinueProduct { at: at(0) },
    ] {
        given([])
            .when(command)
            .then_error(DomainError::NotCreated { entity: "product" });
    }
}

#[test]
fn add_sku_starts_without_stock() {
    let state = given([created()])
        .when(add_sku(SHIRT_M, eur(1999)))
        .then([sku_added(SHIRT_M)]);
    let ProductState::Created(product) = state else {
        panic!("not created")
    };
    assert_eq!(product.skus[&SHIRT_M].on_hand, 0);
}

#[test]
fn add_sku_rejects_a_duplicate_id_and_a_non_positive_price() {
    given([created(), sku_added(SHIRT_M)])
        .when(add_sku(SHIRT_M, eur(1)))
        .then_error(DomainError::AlreadyExists {
            entity: "sku",
            id: SHIRT_M.to_string(),
        });
    given([created()])
        .when(add_sku(SHIRT_M, eur(0)))
        .then_error(DomainError::NonPositiveAmount {
            field: "price",
            amount: eur(0),
        });
}

#[test]
fn add_sku_rejects_blank_attribute_names() {
    given([created()])
        .when(ProductCommand::AddSku {
            sku_id: SHIRT_M,
            price: eur(1),
            attributes: BTreeMap::from([(" ".to_owned(), "M".to_owned())]),
            at: at(1),
        })
        .then_error(DomainError::Invalid {
            field: "attributes",
            reason: "attribute names must not be empty",
        });
}

#[test]
fn add_sku_to_a_discontinued_product_is_rejected() {
    given([created(), product_discontinued(vec![])])
        .when(add_sku(SHIRT_M, eur(1)))
        .then_error(inactive_product());
}

#[test]
fn discontinue_product_lists_the_skus_it_withdraws() {
    let mut history = stocked();
    history.push(sku_discontinued(SHIRT_M));
    let state = given(history)
        .when(ProductCommand::DiscontinueProduct { at: at(5) })
        .then([product_discontinued(vec![SHIRT_L])]);
    let ProductState::Created(product) = state else {
        panic!("not created")
    };
    assert!(product.skus.values().all(|sku| sku.discontinued));
}

#[test]
fn discontinue_product_twice_is_rejected() {
    given([created(), product_discontinued(vec![])])
        .when(ProductCommand::DiscontinueProduct { at: at(6) })
        .then_error(inactive_product());
}

#[test]
fn discontinue_sku_withdraws_only_that_sku() {
    given(stocked())
        .when(ProductCommand::DiscontinueSku {
            sku_id: SHIRT_M,
            at: at(5),
        })
        .then([sku_discontinued(SHIRT_M)]);
}

#[test]
fn discontinue_sku_rejects_unknown_and_discontinued_skus() {
    given(stocked())
        .when(ProductCommand::DiscontinueSku {
            sku_id: UNKNOWN,
            at: at(5),
        })
        .then_error(DomainError::NotFound {
            entity: "sku",
            id: UNKNOWN.to_string(),
        });
    let mut history = stocked();
    history.push(sku_discontinued(SHIRT_M));
    given(history)
        .when(ProductCommand::DiscontinueSku {
            sku_id: SHIRT_M,
            at: at(6),
        })
        .then_error(inactive_sku(SHIRT_M));
}

#[test]
fn every_event_round_trips_through_storage() {
    let mut history = with_reservation();
    history.extend([
        ProductEvent::StockCommitted {
            product_id: PRODUCT,
            reservation_id: ORDER_1,
            items: vec![change(SHIRT_M, 3, 7, 0)],
            at: at(4),
        },
        ProductEvent::StockReleased {
            product_id: PRODUCT,
            reservation_id: ORDER_2,
            items: vec![change(SHIRT_M, 3, 7, 0)],
            at: at(4),
        },
        sku_discontinued(SHIRT_M),
        product_discontinued(vec![SHIRT_L]),
    ]);
    for event in history {
        let data = event.to_data();
        assert!(data.is_object());
        let decoded =
            ProductEvent::from_stored(event.event_type(), event.schema_version(), &data).unwrap();
        assert_eq!(decoded, event);
    }
    assert_eq!(
        reserved(ORDER_1, vec![]).to_data()["reservation_id"],
        ORDER_1.to_string()
    );
}
