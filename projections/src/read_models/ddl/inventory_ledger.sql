-- The tables of read model `inventory_ledger` (src/read_models/inventory_ledger.rs), created by the runtime in
-- each new generation's schema (docs/read-model-generations.md). Names unqualified: the runtime
-- sets the search path. Keep in step with the migrated tables of generation 0: the test
-- `every_generation_has_the_migrated_layout` compares them.

CREATE TABLE rm_inventory_ledger (
    position         bigint      NOT NULL,
    item_no          integer     NOT NULL,
    product_id       uuid        NOT NULL,
    sku_id           uuid        NOT NULL,
    movement         text        NOT NULL CHECK (movement IN
                       ('restock', 'reserve', 'release', 'commit', 'return')),
    quantity         bigint      NOT NULL,
    delta_on_hand    bigint      NOT NULL,
    delta_reserved   bigint      NOT NULL,
    on_hand          bigint      NOT NULL,
    reserved         bigint      NOT NULL,
    available        bigint      NOT NULL,
    reservation_id   uuid,
    stream_version   bigint      NOT NULL,
    at               timestamptz NOT NULL,
    PRIMARY KEY (position, item_no)
);

CREATE INDEX rm_inventory_ledger_sku_idx ON rm_inventory_ledger (sku_id, position);

CREATE INDEX rm_inventory_ledger_reservation_idx ON rm_inventory_ledger (reservation_id)
    WHERE reservation_id IS NOT NULL;
