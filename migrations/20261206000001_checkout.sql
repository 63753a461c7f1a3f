-- The checkout process manager (docs/checkout.md).

-- Deadlines are data: one row per checkout that is not final, polled by every replica of the
-- process manager with FOR UPDATE SKIP LOCKED. `claimed_until` lets a replica own a due row for
-- a while without holding a transaction open; a replica that dies releases it by time.
CREATE TABLE checkout_deadlines (
    checkout_id    uuid        PRIMARY KEY,
    due_at         timestamptz NOT NULL,
    claimed_until  timestamptz
);
CREATE INDEX checkout_deadlines_due ON checkout_deadlines (due_at);

-- The inventory ledger learns the `return` movement (StockReturned: a sale undone before
-- shipping puts the items back on hand).
ALTER TABLE rm_inventory_ledger DROP CONSTRAINT IF EXISTS rm_inventory_ledger_movement_check;
ALTER TABLE rm_inventory_ledger ADD CONSTRAINT rm_inventory_ledger_movement_check
    CHECK (movement IN ('restock', 'reserve', 'release', 'commit', 'return'));
