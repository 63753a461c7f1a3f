"""The database roles of the deployment (issue 15; infra/README.md, "Database roles and secrets"):
the one list infra's checks hold the manifests and Terraform against.

Each database role <x> is a NOLOGIN group role commerce_<x> (created by migrations/, holding the
privileges) and a login commerce_<x>_login (created or updated by commerce-migrate from the password
APP_DATABASE__LOGINS__<X>), and in Kubernetes the Secret commerce-db-<x> with the keys `url` (what
the process connects with) and `password` (what the migrations Job sets). The owner role (owns the
tables, runs the migrations, creates the logins) has the Secret commerce-db-owner, key `url`, for
the migrations Job only.

Used by check_roles.py (the manifests) and check_database_terraform.py (infra/terraform). Terraform
keeps its own copy of the list (local.roles of infra/terraform/modules/database-roles), which
check_database_terraform.py holds equal to DATABASE_ROLES.
"""
from __future__ import annotations

import re

# Every database role, in the order of the design (issue 15).
DATABASE_ROLES = ("customer", "product", "cart", "order", "payment", "checkout", "relay",
                  "projections", "query", "audit")
# Roles with a login but no Deployment: the audit role is for operators' commerce-audit CLI (the
# query process reaches the log through SET ROLE commerce_audit, with its own login).
OPERATOR_ROLES = frozenset({"audit"})
# Process role of scripts/roles -> the database role it connects as (None: no database). Used for a
# line of scripts/roles without its fifth field (db-role); a line with the field is taken as it
# says. When every line of scripts/roles has the field, this table is only a fallback for roles
# added without it.
PROCESS_DATABASE_ROLE = {
    "command-customer": "customer",
    "command-product": "product",
    "command-cart": "cart",
    "command-order": "order",
    "command-payment": "payment",
    "checkout": "checkout",
    "relay": "relay",
    "projections": "projections",
    "query": "query",
    "http-gateway": None,
    "payment-provider": None,
}

SECRET_PREFIX = "commerce-db-"
OWNER = "owner"
OWNER_SECRET = SECRET_PREFIX + OWNER
# The keys of a role's Secret and of the owner's.
LOGIN_KEYS = frozenset({"url", "password"})
OWNER_KEYS = frozenset({"url"})
# Where the pods find them (the volume `database`), as APP_…_FILE variables.
MOUNT_PATH = "/var/run/secrets/database"


def secret_name(role: str) -> str:
    return SECRET_PREFIX + role


def group_name(role: str) -> str:
    return f"commerce_{role}"


def login_name(role: str) -> str:
    return f"commerce_{role}_login"


def logins_variable(role: str) -> str:
    """The migrations Job's setting of the login's password (read as <it>_FILE)."""
    return f"APP_DATABASE__LOGINS__{role.upper()}"


def parse_db_role(field: str) -> str | None:
    """The fifth field of scripts/roles: a database role (`cart`, or `commerce_cart`), or none
    (`-`, `none` or empty)."""
    field = field.strip()
    if field in ("", "-", "none"):
        return None
    return re.sub(r"^commerce_", "", field)
