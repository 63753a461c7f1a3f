#!/usr/bin/env python3
"""The connection budget under load (docs/connection-budget.md), against running roles.

Loads every command service (parallel gRPC clients through server reflection) and the HTTP
gateway for LOAD_SECS seconds while sampling pg_stat_activity of the roles' database, counted per
role (each role names itself `commerce-<role>` in application_name; a connection named
`commerce-<role>-<purpose>` counts toward its role). Then, with the pools still at
their peak, opens a new connection to the server. Fails when:
  - the roles' budget plus the reserve does not fit the server's max_connections;
  - the roles together, or any one role, held more connections than budgeted;
  - a role held a connection under a name the budget does not know (a role that names no role
    gets the generic pool, which the budget does not allow for);
  - the new connection was refused, or a command failed for another reason than its own
    business (e.g. `sorry, too many clients already` behind an INTERNAL).

The budget of a role is its pool (the `[database.roles.commerce-<role>]` table of
settings/config/local.toml) plus its dedicated connections (DEDICATED below, counted in the doc).

    DEMO_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres DEMO_DATABASE=commerce_demo \\
    DEMO_CUSTOMER=127.0.0.1:20051 ... scripts/demo-connections.py

scripts/demo runs it after the demo session.
"""
import os
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
import uuid

import grpc
from grpc_requests import Client

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROFILE = os.environ.get("DEMO_PROFILE", "release")
ADMIN_URL = os.environ.get("DEMO_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DATABASE = os.environ.get("DEMO_DATABASE", "commerce")
LOAD_SECS = float(os.environ.get("LOAD_SECS", "12"))
CLIENTS_PER_SERVICE = int(os.environ.get("LOAD_CLIENTS", "8"))
HTTP = os.environ.get("DEMO_HTTP", "http://127.0.0.1:8080")
ENDPOINTS = {
    "customer": os.environ.get("DEMO_CUSTOMER", "127.0.0.1:50051"),
    "product": os.environ.get("DEMO_PRODUCT", "127.0.0.1:50052"),
    "cart": os.environ.get("DEMO_CART", "127.0.0.1:50053"),
    "order": os.environ.get("DEMO_ORDER", "127.0.0.1:50054"),
    "payment": os.environ.get("DEMO_PAYMENT", "127.0.0.1:50055"),
}
# Connections a role holds outside its pool (docs/connection-budget.md): the append notifier of
# every process that appends; the relay's leadership lock (its LISTEN is inside its pool).
DEDICATED = {f"commerce-command-{c}": 1 for c in ENDPOINTS} | {"commerce-relay": 1, "commerce-checkout": 1}
# Roles without a database connection.
NO_DATABASE = {"http-gateway", "payment-provider"}
# Kept free for others (docs/connection-budget.md): a benchmark (two pools of the generic size),
# an operator's psql sessions, commerce-migrate; PostgreSQL's superuser_reserved_connections come
# on top (read from the server).
RESERVE = {"benchmark": 34, "operator": 5, "migrate": 1}
# Failures that are the commands' own business, not the system's.
EXPECTED_CODES = {grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION,
                  grpc.StatusCode.ABORTED, grpc.StatusCode.ALREADY_EXISTS}


def psql(sql, url=ADMIN_URL):
    return subprocess.run(["psql", url, "-X", "-Atq", "-F", "|", "-c", sql],
                          check=True, capture_output=True, text=True, timeout=10).stdout


def budget():
    """Per application_name: pool max + dedicated connections, for every role of scripts/roles."""
    with open(os.path.join(ROOT, "settings", "config", "local.toml"), "rb") as f:
        stage = tomllib.load(f)
    tables = stage.get("database", {}).get("roles", {})
    generic = stage.get("database", {}).get("max_connections", 16)
    roles = {}
    with open(os.path.join(ROOT, "scripts", "roles")) as f:
        for line in f:
            name = line.split("|")[0].strip()
            if not name or name.startswith("#") or name in NO_DATABASE:
                continue
            app = f"commerce-{name}"
            roles[app] = tables.get(app, {}).get("max_connections", generic) + DEDICATED.get(app, 0)
    return roles


def token(subject, role):
    binary = os.path.join(ROOT, "target", PROFILE, "commerce-token")
    return subprocess.run([binary, subject, role], check=True, capture_output=True,
                          text=True).stdout.strip()


class Load:
    """Parallel clients until `stop` is set; counts calls and unexpected failures."""

    def __init__(self):
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.calls = 0
        self.unexpected = []
        self.admin = token("load-admin", "admin")

    def record(self, error=None):
        with self.lock:
            self.calls += 1
            if error is not None and len(self.unexpected) < 5:
                self.unexpected.append(error)

    def grpc_client(self, context):
        client = Client.get_by_endpoint(ENDPOINTS[context])
        customer_id = str(uuid.uuid4())
        customer = token(customer_id, "customer")
        # One call per loop: each reads the stream (and most append), so each holds a pooled
        # connection for a moment.
        if context == "customer":
            call = lambda: client.request(
                "commerce.customer.v1.CustomerCommands", "DepositBalance",
                {"command_id": str(uuid.uuid4()), "customer_id": customer_id,
                 "amount": {"amount_minor": 1, "currency": "EUR"}}, metadata=bearer(customer))
            client.request("commerce.customer.v1.CustomerCommands", "Register",
                           {"command_id": str(uuid.uuid4()), "customer_id": customer_id,
                            "email": "load@example.com", "name": "Load", "currency": "EUR"},
                           metadata=bearer(customer))
        elif context == "product":
            call = lambda: client.request(
                "commerce.product.v1.ProductCommands", "CreateProduct",
                {"command_id": str(uuid.uuid4()), "product_id": str(uuid.uuid4()),
                 "title": "Load"}, metadata=bearer(self.admin))
        elif context == "cart":
            call = lambda: client.request(
                "commerce.cart.v1.CartCommands", "Clear",
                {"command_id": str(uuid.uuid4()), "customer_id": customer_id},
                metadata=bearer(customer))
        elif context == "order":
            call = lambda: client.request(
                "commerce.order.v1.OrderCommands", "Cancel",
                {"command_id": str(uuid.uuid4()), "order_id": str(uuid.uuid4()),
                 "reason": "load"}, metadata=bearer(self.admin))
        else:
            call = lambda: client.request(
                "commerce.payment.v1.PaymentCommands", "Capture",
                {"command_id": str(uuid.uuid4()), "payment_id": str(uuid.uuid4())},
                metadata=bearer(self.admin))
        while not self.stop.is_set():
            try:
                call()
                self.record()
            except grpc.RpcError as err:
                expected = err.code() in EXPECTED_CODES
                self.record(None if expected else f"{context}: {err.code().name} {err.details()}")

    def http_client(self):
        bearer_token = token(str(uuid.uuid4()), "customer")
        paths = ["/api/v1/products?q=load&limit=5", f"/api/v1/orders/{uuid.uuid4()}"]
        i = 0
        while not self.stop.is_set():
            request = urllib.request.Request(HTTP + paths[i % 2],
                                             headers={"Authorization": f"Bearer {bearer_token}"})
            i += 1
            try:
                with urllib.request.urlopen(request, timeout=10):
                    self.record()
            except urllib.error.HTTPError as err:
                self.record(None if err.code < 500 else f"http: {err.code} {err.read()[:200]}")
            except OSError as err:
                self.record(f"http: {err}")


def bearer(value):
    return [("authorization", f"Bearer {value}")]


def role_of(name, roles):
    """The budgeted role a connection's application_name belongs to: the role itself, or a
    dedicated connection the role labels `<role>-<purpose>` (e.g. `commerce-relay-leadership`)."""
    matches = [r for r in roles if name == r or name.startswith(r + "-")]
    return max(matches, key=len) if matches else name


def sample(roles):
    rows = psql("SELECT coalesce(application_name, ''), count(*) FROM pg_stat_activity "
                f"WHERE datname = '{DATABASE}' GROUP BY 1")
    counts = {}
    for name, count in (line.split("|") for line in rows.splitlines() if line):
        role = role_of(name, roles)
        counts[role] = counts.get(role, 0) + int(count)
    return counts


def main():
    roles = budget()
    total_budget = sum(roles.values())
    server_max = int(psql("SHOW max_connections"))
    superuser = int(psql("SHOW superuser_reserved_connections"))
    reserve = sum(RESERVE.values()) + superuser
    print(f"budget: roles {total_budget} + reserve {reserve} "
          f"({', '.join(f'{k} {v}' for k, v in RESERVE.items())}, superuser {superuser}) "
          f"of max_connections {server_max}")
    failures = []
    if total_budget + reserve > server_max:
        failures.append(f"the budget does not fit: {total_budget} + {reserve} > {server_max}")

    load = Load()
    threads = [threading.Thread(target=load.grpc_client, args=(c,), daemon=True)
               for c in ENDPOINTS for _ in range(CLIENTS_PER_SERVICE)]
    threads += [threading.Thread(target=load.http_client, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    peak_total, peak = 0, {}
    deadline = time.time() + LOAD_SECS
    while time.time() < deadline:
        counts = sample(roles)
        peak_total = max(peak_total, sum(counts.values()))
        for name, count in counts.items():
            peak[name] = max(peak.get(name, 0), count)
        time.sleep(0.5)
    # With the pools at their peak (they shrink only after their idle timeout): a newcomer.
    try:
        psql("SELECT 1")
        newcomer = "ok"
    except subprocess.CalledProcessError as err:
        newcomer = err.stderr.strip()
        failures.append(f"a new connection was refused: {newcomer}")
    load.stop.set()
    for t in threads:
        t.join(timeout=15)

    print(f"load: {len(threads)} clients, {load.calls} calls in {LOAD_SECS:.0f} s")
    print(f"{'application_name':32} {'peak':>5} {'budget':>6}")
    for name in sorted(set(peak) | set(roles)):
        print(f"{name or '(none)':32} {peak.get(name, 0):>5} {roles.get(name, '-'):>6}")
        if name not in roles:
            failures.append(f"connections of an unbudgeted application_name {name!r}: {peak[name]}")
        elif peak.get(name, 0) > roles[name]:
            failures.append(f"{name} over its budget: {peak[name]} > {roles[name]}")
    print(f"{'total (peak of the sum)':32} {peak_total:>5} {total_budget:>6}")
    print(f"new connection during load: {newcomer}")
    if peak_total > total_budget:
        failures.append(f"budget exceeded: {peak_total} > {total_budget}")
    failures += [f"unexpected failure: {e}" for e in load.unexpected]
    if load.calls == 0:
        failures.append("no call completed: the load did not run")
    for failure in failures:
        print(f"connection budget: {failure}", file=sys.stderr)
    if failures:
        sys.exit(1)
    print("connection budget: ok")


if __name__ == "__main__":
    main()
