-- Each service only its own data, enforced by PostgreSQL (docs/database-roles.md).
--
-- Migrations run as the owner role (the role that owns every table; locally the cluster's admin,
-- on managed PostgreSQL a non-superuser with CREATEROLE). Services connect as login roles
-- `commerce_<x>_login`, each a member of one NOLOGIN group below and pinned to it with
-- `ALTER ROLE … SET role` (commerce-migrate creates them from passwords in settings). Every
-- privilege is the group's:
--
--   group                 event log                              other tables
--   commerce_customer     read, append: customer                 —
--   commerce_product      read, append: product                  —
--   commerce_cart         read, append: cart                     —
--   commerce_order        read, append: order; read: cart        —
--   commerce_payment      read, append: payment; read: order     —
--   commerce_checkout     read, append: checkout                 checkout_deadlines
--   commerce_relay        read all                               relay_checkpoints
--   commerce_projections  read all                               owns the read models, markers,
--                                                                parking, progress, generations
--   commerce_query        none (audit reads SET ROLE commerce_audit)   reads the read models
--   commerce_audit        read all                               —
--
-- The log is append-only for every one of them: SELECT and INSERT are all they are granted, so
-- UPDATE, DELETE and TRUNCATE are refused (only the owner could). Row-level security narrows
-- both to the categories `service_categories` lists for the role; it does not apply to the owner
-- or to superusers, which is why no service may connect as one.

-- Roles are cluster-wide while this runs once per database, and tests migrate many databases at
-- once: create each only if missing, and take a concurrent creation elsewhere as done.
DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['commerce_customer', 'commerce_product', 'commerce_cart',
        'commerce_order', 'commerce_payment', 'commerce_checkout', 'commerce_relay',
        'commerce_projections', 'commerce_query', 'commerce_audit']
    LOOP
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name) THEN
                EXECUTE format('CREATE ROLE %I NOLOGIN', name);
            END IF;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END LOOP;
END
$$;

-- The query role reads read models only. Its audit service reads the log as commerce_audit, in
-- a READ ONLY transaction with SET LOCAL ROLE: membership allows the SET ROLE, NOINHERIT keeps
-- the audit role's SELECT on the log out of the query role's own statements. These change
-- cluster-wide catalog rows that migrations of other databases may be changing at the same time
-- ("tuple concurrently updated"): each is made only when missing, and a failure is an error only
-- if the change is still missing afterwards.
DO $$
BEGIN
    IF (SELECT rolinherit FROM pg_roles WHERE rolname = 'commerce_query') THEN
        BEGIN
            ALTER ROLE commerce_query NOINHERIT;
        EXCEPTION WHEN OTHERS THEN
            IF (SELECT rolinherit FROM pg_roles WHERE rolname = 'commerce_query') THEN
                RAISE;
            END IF;
        END;
    END IF;
    IF NOT pg_has_role('commerce_query', 'commerce_audit', 'MEMBER') THEN
        BEGIN
            GRANT commerce_audit TO commerce_query;
        EXCEPTION WHEN OTHERS THEN
            IF NOT pg_has_role('commerce_query', 'commerce_audit', 'MEMBER') THEN
                RAISE;
            END IF;
        END;
    END IF;
END
$$;

-- Which categories a service role may read and append to. Consulted by the policies below once
-- per statement (an uncorrelated sub-select becomes an InitPlan), through role membership, so a
-- login role gets its group's rows.
CREATE TABLE service_categories (
    role        name    NOT NULL,
    category    text    NOT NULL,
    may_append  boolean NOT NULL,
    may_read    boolean NOT NULL,
    PRIMARY KEY (role, category),
    CHECK (may_read OR NOT may_append)
);
COMMENT ON TABLE service_categories IS
    'Stream categories each service role may read and append to (row-level security on events).';
INSERT INTO service_categories (role, category, may_append, may_read) VALUES
    ('commerce_customer', 'customer', true,  true),
    ('commerce_product',  'product',  true,  true),
    ('commerce_cart',     'cart',     true,  true),
    ('commerce_order',    'order',    true,  true),
    ('commerce_order',    'cart',     false, true),
    ('commerce_payment',  'payment',  true,  true),
    ('commerce_payment',  'order',    false, true),
    ('commerce_checkout', 'checkout', true,  true);

-- The event log: append-only, by category.
REVOKE ALL ON events FROM PUBLIC;
GRANT SELECT, INSERT ON events TO commerce_customer, commerce_product, commerce_cart,
    commerce_order, commerce_payment, commerce_checkout;
GRANT SELECT ON events TO commerce_relay, commerce_projections, commerce_audit;
GRANT SELECT ON service_categories TO commerce_customer, commerce_product, commerce_cart,
    commerce_order, commerce_payment, commerce_checkout;

ALTER TABLE events ENABLE ROW LEVEL SECURITY;
CREATE POLICY events_read_everything ON events FOR SELECT
    TO commerce_relay, commerce_projections, commerce_audit
    USING (true);
CREATE POLICY events_read_granted ON events FOR SELECT
    TO commerce_customer, commerce_product, commerce_cart, commerce_order, commerce_payment,
       commerce_checkout
    USING (category = ANY (ARRAY(
        SELECT sc.category FROM service_categories sc
        WHERE sc.may_read AND pg_has_role(sc.role, 'MEMBER'))));
CREATE POLICY events_append_own ON events FOR INSERT
    TO commerce_customer, commerce_product, commerce_cart, commerce_order, commerce_payment,
       commerce_checkout
    WITH CHECK (category = ANY (ARRAY(
        SELECT sc.category FROM service_categories sc
        WHERE sc.may_append AND pg_has_role(sc.role, 'MEMBER'))));

-- The relay's checkpoint.
REVOKE ALL ON relay_checkpoints FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON relay_checkpoints TO commerce_relay;

-- The checkout process manager's deadlines.
REVOKE ALL ON checkout_deadlines FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON checkout_deadlines TO commerce_checkout;

-- The projections own what they write: a replay creates a generation's tables in a schema of its
-- own and moves them in and out of `public` (ALTER TABLE … SET SCHEMA needs ownership and CREATE
-- on the schema), and drops retired ones. Tables a replay creates later are owned by it too
-- (every session of its login runs as commerce_projections), and the default privileges below
-- let the query role read them. The owner running this must be able to act as
-- commerce_projections: a superuser is; a CREATEROLE owner becomes a member here.
DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'commerce_projections', 'MEMBER') THEN
        BEGIN
            EXECUTE format('GRANT commerce_projections TO %I', current_user);
        EXCEPTION WHEN OTHERS THEN
            IF NOT pg_has_role(current_user, 'commerce_projections', 'MEMBER') THEN
                RAISE;
            END IF;
        END;
    END IF;
    EXECUTE format('GRANT CREATE ON DATABASE %I TO commerce_projections', current_database());
END
$$;
GRANT CREATE ON SCHEMA public TO commerce_projections;
ALTER DEFAULT PRIVILEGES FOR ROLE commerce_projections GRANT SELECT ON TABLES TO commerce_query;

DO $$
DECLARE
    tbl record;
BEGIN
    -- The live generation (in `public`) and any other generation's schema and tables.
    FOR tbl IN
        SELECT n.nspname, c.relname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r'
          AND ((n.nspname = 'public' AND (c.relname LIKE 'rm\_%' OR c.relname IN (
                   'projection_versions', 'parked_events', 'projection_progress',
                   'read_model_generations')))
               OR n.nspname LIKE 'rm\_%\_g%')
    LOOP
        EXECUTE format('ALTER TABLE %I.%I OWNER TO commerce_projections', tbl.nspname, tbl.relname);
        IF tbl.nspname = 'public' AND tbl.relname LIKE 'rm\_%' THEN
            EXECUTE format('GRANT SELECT ON %I.%I TO commerce_query', tbl.nspname, tbl.relname);
        END IF;
    END LOOP;
    FOR tbl IN SELECT nspname FROM pg_namespace WHERE nspname LIKE 'rm\_%\_g%' LOOP
        EXECUTE format('ALTER SCHEMA %I OWNER TO commerce_projections', tbl.nspname);
    END LOOP;
END
$$;
-- The query service's consistency wait reads a model's markers in its live generation.
GRANT SELECT ON projection_versions, read_model_generations TO commerce_query;
