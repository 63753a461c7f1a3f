-- Projection `checkouts` (crate `projections`, src/read_models/checkouts.rs): the checkout
-- process manager's streams `checkout-<order id>` (docs/checkout.md), one row per checkout and
-- one timeline row per event. Like every read model: derived from the events alone, owned by
-- its projection, no foreign keys (see 20261125000003_read_models.sql).

CREATE TABLE rm_checkouts (
    order_id          uuid        PRIMARY KEY,
    customer_id       uuid        NOT NULL,
    payment_id        uuid        NOT NULL,
    method            text        NOT NULL CHECK (method IN ('balance', 'external')),
    total_minor       bigint      NOT NULL,
    currency          text        NOT NULL,
    -- aggregates::checkout::Phase::name.
    status            text        NOT NULL CHECK (status IN
                        ('running', 'compensating', 'refunding', 'completed', 'cancelled',
                         'refunded')),
    -- Why it is compensating (then cancelled) or refunding (then refunded).
    reason            text,
    deadline_at       timestamptz NOT NULL,
    started_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    -- Global position of CheckoutStarted: the paging cursor (oldest first).
    started_position  bigint      NOT NULL,
    stream_version    bigint      NOT NULL
);
-- The stuck list: checkouts the process manager still drives, oldest first.
CREATE INDEX rm_checkouts_in_flight_idx ON rm_checkouts (started_position)
    WHERE status IN ('running', 'compensating', 'refunding');

CREATE TABLE rm_checkout_timeline (
    order_id        uuid        NOT NULL,
    stream_version  bigint      NOT NULL,
    -- The event type, e.g. CheckoutStepRefused.
    kind            text        NOT NULL,
    -- aggregates::checkout::Step::name of a step's answer.
    step            text,
    -- The refusal's message, the fact noticed, or the reason of a turn.
    detail          text,
    at              timestamptz NOT NULL,
    PRIMARY KEY (order_id, stream_version)
);
