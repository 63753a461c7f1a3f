-- The tables of read model `checkouts` (src/read_models/checkouts.rs), created by the runtime in
-- each new generation's schema (docs/read-model-generations.md). Names unqualified: the runtime
-- sets the search path. Keep in step with the migrated tables of generation 0: the test
-- `every_generation_has_the_migrated_layout` compares them.

CREATE TABLE rm_checkouts (
    order_id          uuid        PRIMARY KEY,
    customer_id       uuid        NOT NULL,
    payment_id        uuid        NOT NULL,
    method            text        NOT NULL CHECK (method IN ('balance', 'external')),
    total_minor       bigint      NOT NULL,
    currency          text        NOT NULL,
    
    status            text        NOT NULL CHECK (status IN
                        ('running', 'compensating', 'refunding', 'completed', 'cancelled',
                         'refunded')),
    
    reason            text,
    deadline_at       timestamptz NOT NULL,
    started_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    
    started_position  bigint      NOT NULL,
    stream_version    bigint      NOT NULL
);

CREATE INDEX rm_checkouts_in_flight_idx ON rm_checkouts (started_position)
    WHERE status IN ('running', 'compensating', 'refunding');

CREATE TABLE rm_checkout_timeline (
    order_id        uuid        NOT NULL,
    stream_version  bigint      NOT NULL,
    
    kind            text        NOT NULL,
    
    step            text,
    
    detail          text,
    at              timestamptz NOT NULL,
    PRIMARY KEY (order_id, stream_version)
);
