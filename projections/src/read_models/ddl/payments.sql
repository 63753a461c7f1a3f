-- The tables of read model `payments` (src/read_models/payments.rs), created by the runtime in
-- each new generation's schema (docs/read-model-generations.md). Names unqualified: the runtime
-- sets the search path. Keep in step with the migrated tables of generation 0: the test
-- `every_generation_has_the_migrated_layout` compares them.

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
