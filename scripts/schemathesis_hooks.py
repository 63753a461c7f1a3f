"""Schemathesis hooks of scripts/demo (SCHEMATHESIS_HOOKS=schemathesis_hooks, scripts/ on the path).

- The payment webhook refuses every callback not signed with `Commerce-Signature` (HMAC-SHA256 of
  "<t>.<raw body>" under the webhook secret), so unsigned generated callbacks would only ever reach
  the 401. Each generated callback is signed here over the exact bytes the requests transport
  sends for a JSON body (`json.dumps`, as `requests` does), so the fuzzer reaches the handler's
  parsing and logic. DEMO_WEBHOOK_SECRET is the demo's secret (the development one by default).
- Path ids are random UUIDs, so detail routes would only ever answer 404. The demo session's data
  is known: its customer and product (DEMO_CUSTOMER_ID, DEMO_PRODUCT_ID), and, read once from the
  gateway (DEMO_HTTP), its orders and their payments (with the customer's token, DEMO_TOKEN) and
  the correlation ids of its events (with an admin's, DEMO_ADMIN_TOKEN). Half of the generated
  path ids of the fuzzing phase, and every one of the coverage phase's valid cases (which all use
  the same made-up UUID), are replaced with those: customer, product, order (also as a
  checkout's), payment and correlation ids, and the streams they name for the audit routes. The
  stateful phase is left alone: its OpenAPI links carry the ids its answers return.
- A valid payment callback is pointed the same way at one of the session's payments (always in
  the coverage phase, half the time in the fuzzing phase), so that the webhook reaches the
  payment service rather than only its 404.
- The product list's cursor is the last product's id, and a product that does not exist is no
  position in the catalog (400): a cursor shaped like one is replaced the same way.
- Two rules tie query parameters together, which the document states in words because a JSON
  Schema of one parameter cannot refer to another: a stream history's cursor belongs to the
  direction it was made for (`f…` forward, `b…` backward), and a state is asked at a version or
  at a time, not both. Valid queries are made to keep them, as a client following `next_cursor`
  does; a query breaking them is refused with 400.
- A consistency token names a write: a token of a stream nobody wrote is answered 503
  `not_yet_consistent` after the whole wait, by design (the read model cannot tell "not yet" from
  "never"). A generated token of the category the route's read model follows (the document
  declares which) is therefore pointed at the session's stream of that category, at version 0,
  which every existing stream has reached; malformed tokens and other categories are sent as they
  are, and must be refused with 400.
"""

import hashlib
import hmac
import json
import os
import re
import time
import urllib.request

import schemathesis
from hypothesis import strategies as st

WEBHOOK_PATH = "/api/v1/webhooks/payments"
PRODUCT_LIST_PATH = "/api/v1/products"
HISTORY_PATH = "/api/v1/admin/audit/streams/{stream_id}/events"
STATE_PATH = "/api/v1/admin/audit/streams/{stream_id}/state"
SECRET = os.environ.get("DEMO_WEBHOOK_SECRET", "whsec-commerce-local-development-do-not-use").encode()
UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
TOKEN = re.compile(rf"^([a-z0-9_]+)-{UUID}@[0-9]{{1,19}}$")
PRODUCT_CURSOR = re.compile(rf"^{UUID}$")


def _get(path, token):
    """The JSON answer of the gateway (DEMO_HTTP) to GET `path` with `token`; None when it cannot
    be had."""
    base = os.environ.get("DEMO_HTTP")
    if not base or not token:
        return None
    request = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)
    except (OSError, ValueError):
        return None


def _session_orders():
    """The demo customer's orders, as the customer lists them."""
    return (_get("/api/v1/orders?limit=100", os.environ.get("DEMO_TOKEN")) or {}).get("orders", [])


def _session_correlations(customer):
    """The correlation ids of the demo customer's events, as an admin audits them."""
    if not customer:
        return []
    page = _get(f"/api/v1/admin/audit/customers/{customer}/events?limit=500",
                os.environ.get("DEMO_ADMIN_TOKEN")) or {}
    ids = {event.get("metadata", {}).get("correlation_id") for event in page.get("events", [])}
    return sorted(id for id in ids if id)


def _known():
    customer, product = os.environ.get("DEMO_CUSTOMER_ID"), os.environ.get("DEMO_PRODUCT_ID")
    orders = _session_orders()
    order_ids = [order["order_id"] for order in orders]
    # The payments with their orders, for the webhook's callbacks.
    payments = [(order["payment_id"], order["order_id"]) for order in orders if order.get("payment_id")]
    payment_ids = [payment for payment, _ in payments]
    customers = [customer] if customer else []
    products = [product] if product else []
    # Stream ids by category: `<category>-<id>` of what the session wrote.
    streams = {
        "customer": customers,
        "cart": customers,
        "product": products,
        "order": order_ids,
        "checkout": order_ids,
        "payment": payment_ids,
    }
    ids = {
        "customer_id": customers,
        "product_id": products,
        "order_id": order_ids,
        "payment_id": payment_ids,
        "correlation_id": _session_correlations(customer),
        "stream_id": [f"{category}-{id}" for category, values in streams.items() for id in values],
    }
    return {name: values for name, values in ids.items() if values}, streams, payments


KNOWN, STREAMS, PAYMENTS = _known()


def _raw_json(body):
    """The bytes `requests` sends for `json=body`."""
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    try:
        return json.dumps(body, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError):
        # Not JSON (no body at all, or a value requests would refuse): sign the empty body.
        return b""


def _pick(values, seed):
    """One of `values`, the same for the same case."""
    return values[int(hashlib.sha256(seed.encode()).hexdigest(), 16) % len(values)]


def _is_coverage_positive(case, location):
    """Whether `case` is a coverage-phase case whose `location` ("path", "query") is valid."""
    meta = case.meta
    if meta is None or getattr(meta.phase.name, "value", meta.phase.name) != "coverage":
        return False
    return _is_positive(case, location)


def _is_positive(case, location):
    """Whether `case`'s `location` ("path", "query", "body") holds valid values."""
    meta = case.meta
    if meta is None:
        return False
    component = next((info for where, info in meta.components.items()
                      if getattr(where, "value", where) == location), None)
    return component is not None and getattr(component.mode, "value", component.mode) == "positive"


def _seed_token(case):
    headers = dict(case.headers or {})
    token = headers.get("X-Consistency-Token")
    match = TOKEN.match(token) if isinstance(token, str) else None
    streams = STREAMS.get(match.group(1)) if match else None
    if streams:
        headers["X-Consistency-Token"] = f"{match.group(1)}-{_pick(streams, token)}@0"
        case.headers = headers


def _seed_coverage(case):
    if case.path_parameters and _is_coverage_positive(case, "path"):
        case.path_parameters = {
            name: _pick(KNOWN[name], case.id) if name in KNOWN else value
            for name, value in case.path_parameters.items()
        }
    if case.operation.path == PRODUCT_LIST_PATH and case.query and _is_coverage_positive(case, "query"):
        _seed_product_cursor(case.query)


def _seed_callback(case):
    """Points a valid callback at one of the session's payments: in every case of the coverage
    phase, in half of the fuzzing phase's (the others keep their made-up payment, answered 404)."""
    body = case.body
    if not PAYMENTS or not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        return
    if not _is_positive(case, "body"):
        return
    phase = getattr(case.meta.phase.name, "value", case.meta.phase.name)
    if phase != "coverage" and int(hashlib.sha256(case.id.encode()).hexdigest(), 16) % 2:
        return
    payment, order = _pick(PAYMENTS, case.id)
    case.body = {**body, "data": {**body["data"], "payment_id": payment, "order_id": order}}


def _seed_product_cursor(query):
    cursor = query.get("cursor")
    if isinstance(cursor, str) and PRODUCT_CURSOR.match(cursor) and "product_id" in KNOWN:
        query["cursor"] = KNOWN["product_id"][0]


def _query_rules(case):
    """The rules between query parameters that the document states in words (a JSON Schema of
    one parameter cannot refer to another), applied to valid queries as a client would: a
    history cursor goes with the direction it was made for, and a state is asked at a version or
    at a time, not both."""
    query = case.query
    if not query or not _is_positive(case, "query"):
        return
    path, cursor = case.operation.path, query.get("cursor")
    if path == HISTORY_PATH and isinstance(cursor, str) and cursor[:1] in ("f", "b"):
        direction = query.get("direction") or "forward"
        query["cursor"] = direction[0] + cursor[1:]
    if path == STATE_PATH and query.get("version") is not None:
        query.pop("at", None)


@schemathesis.hook
def before_call(context, case, kwargs):
    _seed_token(case)
    _seed_coverage(case)
    _query_rules(case)
    if case.operation.path != WEBHOOK_PATH:
        return
    _seed_callback(case)
    timestamp = str(int(time.time()))
    mac = hmac.new(SECRET, timestamp.encode() + b"." + _raw_json(case.body), hashlib.sha256)
    headers = dict(case.headers or {})
    headers["Commerce-Signature"] = f"t={timestamp},v1={mac.hexdigest()}"
    case.headers = headers


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    if not path_parameters:
        return st.just(path_parameters)
    known = [name for name in path_parameters if name in KNOWN]
    if not known:
        return st.just(path_parameters)
    seeded = st.fixed_dictionaries({name: st.sampled_from(KNOWN[name]) for name in known})
    return st.one_of(st.just(path_parameters), seeded.map(lambda ids: {**path_parameters, **ids}))


@schemathesis.hook
def flatmap_query(context, query):
    operation = context.operation
    if operation is None or operation.path != PRODUCT_LIST_PATH or not query or "cursor" not in query:
        return st.just(query)
    seeded = dict(query)
    _seed_product_cursor(seeded)
    return st.sampled_from([query, seeded])
