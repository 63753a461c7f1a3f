-- The tables of read model `customers` (src/read_models/customers.rs), created by the runtime in
-- each new generation's schema (docs/read-model-generations.md). Names unqualified: the runtime
-- sets the search path. Keep in step with the migrated tables of generation 0: the test
-- `every_generation_has_the_migrated_layout` compares them.

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
