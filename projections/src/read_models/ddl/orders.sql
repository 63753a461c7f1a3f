-- The tables of read model `orders` (src/read_models/orders.rs), created by the runtime in
-- each new generation's schema (docs/read-model-generations.md). Names unqualified: the runtime
-- sets the search path. Keep in step with the migrated tables of generation 0: the test
-- `every_generation_has_the_migrated_layout` compares them.

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
