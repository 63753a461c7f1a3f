-- PostgreSQL read models (crate `projections`, folder src/read_models). Each projection owns the
-- tables named after it and nothing else writes them. Every column is derived from the events
-- alone (times from the events' `at` fields, orderings from global positions), so a rebuild from
-- the log reproduces the same rows. No foreign keys between them: the runtime empties a
-- projection's tables before a rebuild, in any order.

-- Projection `customers`.
CREATE TABLE rm_customers (
    customer_id     uuid        PRIMARY KEY,
    email           text        NOT NULL,
    name            text        NOT NULL,
    balance_minor   bigint      NOT NULL,
    currency        text        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('active', 'deactivated')),
    registered_at   timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    deactivated_at  timestamptz,
    stream_version  bigint      NOT NULL
);

-- Projection `orders`.
CREATE TABLE rm_orders (
    order_id          uuid        PRIMARY KEY,
    customer_id       uuid        NOT NULL,
    status            text        NOT NULL CHECK (status IN
                        ('placed', 'stock_reserved', 'paid', 'shipped', 'cancelled', 'refunded')),
    currency          text        NOT NULL,
    total_minor       bigint      NOT NULL,
    line_count        integer     NOT NULL,
    item_count        bigint      NOT NULL,
    payment_id        uuid,
    paid_minor        bigint,
    refunded_minor    bigint,
    cancel_reason     text,
    cancelled_with_stock_reserved boolean,
    refund_reason     text,
    refunded_after_shipping boolean,
    placed_at         timestamptz NOT NULL,
    stock_reserved_at timestamptz,
    paid_at           timestamptz,
    shipped_at        timestamptz,
    cancelled_at      timestamptz,
    refunded_at       timestamptz,
    updated_at        timestamptz NOT NULL,
    -- Global position of OrderPlaced: the paging cursor (newest first).
    placed_position   bigint      NOT NULL,
    stream_version    bigint      NOT NULL
);
CREATE INDEX rm_orders_customer_idx ON rm_orders (customer_id, placed_position DESC);
CREATE INDEX rm_orders_customer_status_idx ON rm_orders (customer_id, status, placed_position DESC);

CREATE TABLE rm_order_lines (
    order_id         uuid    NOT NULL,
    line_no          integer NOT NULL,
    product_id       uuid    NOT NULL,
    sku_id           uuid    NOT NULL,
    title            text    NOT NULL,
    unit_price_minor bigint  NOT NULL,
    currency         text    NOT NULL,
    quantity         integer NOT NULL,
    line_total_minor bigint  NOT NULL,
    PRIMARY KEY (order_id, line_no)
);

-- Projection `payments`.
CREATE TABLE rm_payments (
    payment_id         uuid        PRIMARY KEY,
    order_id           uuid        NOT NULL,
    customer_id        uuid        NOT NULL,
    method             text        NOT NULL CHECK (method IN ('balance', 'external')),
    amount_minor       bigint      NOT NULL,
    currency           text        NOT NULL,
    status             text        NOT NULL CHECK (status IN
                         ('initiated', 'captured', 'failed', 'refunded')),
    refunded_minor     bigint      NOT NULL,
    provider_reference text,
    failure_reason     text,
    initiated_at       timestamptz NOT NULL,
    captured_at        timestamptz,
    failed_at          timestamptz,
    last_refunded_at   timestamptz,
    updated_at         timestamptz NOT NULL,
    -- Global position of PaymentInitiated: the paging cursor (newest first).
    initiated_position bigint      NOT NULL,
    stream_version     bigint      NOT NULL
);
CREATE INDEX rm_payments_customer_idx ON rm_payments (customer_id, initiated_position DESC);
CREATE INDEX rm_payments_order_idx ON rm_payments (order_id, initiated_position);

CREATE TABLE rm_payment_refunds (
    payment_id           uuid        NOT NULL,
    stream_version       bigint      NOT NULL,
    amount_minor         bigint      NOT NULL,
    total_refunded_minor bigint      NOT NULL,
    currency             text        NOT NULL,
    reason               text        NOT NULL,
    refunded_at          timestamptz NOT NULL,
    PRIMARY KEY (payment_id, stream_version)
);

-- Projection `inventory_ledger`: one row per SKU per stock event.
CREATE TABLE rm_inventory_ledger (
    position         bigint      NOT NULL,
    item_no          integer     NOT NULL,
    product_id       uuid        NOT NULL,
    sku_id           uuid        NOT NULL,
    movement         text        NOT NULL CHECK (movement IN
                       ('restock', 'reserve', 'release', 'commit')),
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
