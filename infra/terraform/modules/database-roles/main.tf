# One PostgreSQL login per database role (issue 15, infra/README.md "Database roles and secrets"):
# a generated password and a Kubernetes Secret commerce-db-<role> with
#   url      = postgres://commerce_<role>_login:<password>@<endpoint>/<database>?sslmode=require
#              (what the role's Deployment reads as APP_DATABASE__URL_FILE),
#   password = the same password (what the migrations Job reads as APP_DATABASE__LOGINS__<ROLE>_FILE
#              and sets on the login with CREATE/ALTER ROLE),
# and the Secret commerce-db-owner (`url` of the role that owns the tables and creates the logins),
# for the migrations Job only. The roles themselves (NOLOGIN groups commerce_<role>, their grants
# and row-level security, the logins) are created by migrations/ and commerce-migrate; this module
# only holds their passwords. Passwords are alphanumeric: no escaping in the URL.
#
# The list below must equal DATABASE_ROLES of infra/tests/database_roles.py (checked by
# scripts/check-infra): the command services' roles, the checkout process manager's, the relay's,
# the projections', the query role's and the audit role's (operators' commerce-audit CLI).

locals {
  roles = ["customer", "product", "cart", "order", "payment", "checkout", "relay", "projections", "query", "audit"]
}

resource "random_password" "login" {
  for_each = toset(local.roles)
  length   = 40
  special  = false
}

resource "kubernetes_secret_v1" "login" {
  for_each = toset(local.roles)
  metadata {
    name      = "commerce-db-${each.key}"
    namespace = var.namespace
    labels = {
      "app.kubernetes.io/part-of"   = "commerce"
      "app.kubernetes.io/component" = "database-login"
    }
  }
  data = {
    url      = "postgres://commerce_${each.key}_login:${random_password.login[each.key].result}@${var.endpoint}/${var.database}?sslmode=require"
    password = random_password.login[each.key].result
  }
}

resource "kubernetes_secret_v1" "owner" {
  metadata {
    name      = "commerce-db-owner"
    namespace = var.namespace
    labels = {
      "app.kubernetes.io/part-of"   = "commerce"
      "app.kubernetes.io/component" = "database-owner"
    }
  }
  data = {
    url = var.owner_url
  }
}
