#!/usr/bin/env python3
"""A working session against the command services, through server reflection only, and
against the HTTP read API.

Registers a customer, creates a product with a SKU, restocks it and adds it to the customer's
cart, printing each call and its consistency token; then the customer buys with one `Checkout`
call, by balance and then by the external provider (its simulator), and follows each purchase
over HTTP until the checkout process manager has completed it. Uses grpc-requests (PyPI), a reflection
client: no .proto files needed. Tokens come from `commerce-token`.

With DEMO_HTTP (the gateway's base URL), each command is followed by a read through the HTTP
gateway that carries the command's consistency token (`X-Consistency-Token: <stream>@<version>`)
and must show the command's effect: the whole path command → log → relay → RocketMQ →
projection → read model → query service → gateway. A 503 `not_yet_consistent` is retried after
its Retry-After, as a client should (the first reads may wait for the workers to start).

    scripts/demo-session.py            # against scripts/run's services (ports 50051..., 8080)
    DEMO_CUSTOMER=127.0.0.1:51051 ... scripts/demo-session.py

Exits non-zero on the first unexpected answer; scripts/test runs it.
"""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import grpc
from grpc_requests import Client

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROFILE = os.environ.get("DEMO_PROFILE", "release")
ENDPOINTS = {
    "customer": os.environ.get("DEMO_CUSTOMER", "127.0.0.1:50051"),
    "product": os.environ.get("DEMO_PRODUCT", "127.0.0.1:50052"),
    "cart": os.environ.get("DEMO_CART", "127.0.0.1:50053"),
    "order": os.environ.get("DEMO_ORDER", "127.0.0.1:50054"),
}
PROVIDER = os.environ.get("DEMO_PROVIDER", "http://127.0.0.1:8090")


def token(subject, role, ttl=3600):
    binary = os.path.join(ROOT, "target", PROFILE, "commerce-token")
    return subprocess.run([binary, subject, role, "--ttl", str(ttl)], check=True,
                          capture_output=True, text=True).stdout.strip()


def call(service_name, method, request, bearer):
    context = service_name.split(".")[1]
    client = Client.get_by_endpoint(ENDPOINTS[context])
    print(f"> {service_name}/{method} {json.dumps(request)}")
    reply = client.request(service_name, method, request, metadata=[("authorization", f"Bearer {bearer}")])
    print(f"< {json.dumps(reply)}")
    return reply


HTTP = os.environ.get("DEMO_HTTP", "http://127.0.0.1:8080")


def consistency(reply):
    """The consistency token of a command's reply, as the gateway's header wants it."""
    return f"{reply['result']['stream_id']}@{reply['result'].get('version', 0)}"


def http_get(path, bearer=None, token=None, expect=200, patience=60):
    """GET through the gateway; retries 503 not_yet_consistent for up to `patience` seconds."""
    headers = {"Accept": "application/json"}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    if token:
        headers["X-Consistency-Token"] = token
    deadline = time.time() + patience
    while True:
        request = urllib.request.Request(HTTP + path, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, body, retry = response.status, json.load(response), None
        except urllib.error.HTTPError as err:
            status, body, retry = err.code, json.load(err), err.headers.get("Retry-After")
        if status == 503 and body["error"]["code"] == "not_yet_consistent" and time.time() < deadline:
            time.sleep(float(retry or 1))
            continue
        break
    shown = f" [{token}]" if token else ""
    print(f"> GET {path}{shown}")
    print(f"< {status} {json.dumps(body)[:400]}")
    assert status == expect, f"GET {path}: expected {expect}, got {status}"
    if status >= 400:
        error = body["error"]
        assert error["code"] and error["message"] and error["request_id"], body
    return body


def expect_status(code, fn):
    try:
        fn()
    except grpc.RpcError as err:
        if err.code() != code:
            raise
        print(f"< {err.code().name}: {err.details()}")
        return
    raise AssertionError(f"expected {code.name}")


def wait_for_checkout(order_id, bearer, patience=60):
    """Polls the order's checkout over HTTP until it is completed or final; returns it."""
    deadline = time.time() + patience
    while True:
        request = urllib.request.Request(f"{HTTP}/api/v1/orders/{order_id}/checkout",
                                         headers={"Authorization": f"Bearer {bearer}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body = json.load(response)
            if body["status"] in ("completed", "cancelled", "refunded"):
                print(f"> GET /api/v1/orders/{order_id}/checkout")
                print(f"< 200 status={body['status']} reason={body.get('reason')} steps="
                      + ",".join(e.get("step") or e["kind"] for e in body["timeline"]))
                return body
        except urllib.error.HTTPError as err:
            if err.code not in (404, 503):  # not started yet / not yet consistent
                raise AssertionError(f"checkout of {order_id}: {err.code} {err.read()[:300]}")
        assert time.time() < deadline, f"checkout of {order_id} did not finish in {patience} s"
        time.sleep(0.2)


def buy(customer_id, product_id, sku_id, customer, admin):
    """The cart (2 × 19.99) bought by balance, then one more item by the external provider."""
    order_id = str(uuid.uuid4())
    placed = call("commerce.order.v1.OrderCommands", "Checkout",
                  {"command_id": str(uuid.uuid4()), "order_id": order_id, "customer_id": customer_id,
                   "payment_method": "PAYMENT_METHOD_BALANCE"}, customer)
    assert placed["result"]["stream_id"] == f"order-{order_id}", placed
    order = http_get(f"/api/v1/orders/{order_id}", customer, consistency(placed))
    assert order["total"]["amount_minor"] == 3998, order
    done = wait_for_checkout(order_id, customer)
    assert done["status"] == "completed", done
    # Placed (0), stock reserved (1), paid (2): the read must show at least version 2.
    order = http_get(f"/api/v1/orders/{order_id}", customer, f"order-{order_id}@2")
    assert order["status"] == "paid", order
    # The checkout's own token: a read that must show at least that version.
    http_get(f"/api/v1/orders/{order_id}/checkout", customer, f"checkout-{order_id}@{done['version']}")

    added = call("commerce.cart.v1.CartCommands", "AddItem",
                 {"command_id": str(uuid.uuid4()), "customer_id": customer_id,
                  "product_id": product_id, "sku_id": sku_id, "quantity": 1}, customer)
    http_get("/api/v1/cart", customer, consistency(added))
    external = str(uuid.uuid4())
    script = urllib.request.Request(f"{PROVIDER}/v1/scripts/{external}", method="PUT",
                                    data=json.dumps({"outcome": "approve", "delay_ms": 100}).encode(),
                                    headers={"Content-Type": "application/json"})
    urllib.request.urlopen(script, timeout=10).close()
    placed = call("commerce.order.v1.OrderCommands", "Checkout",
                  {"command_id": str(uuid.uuid4()), "order_id": external, "customer_id": customer_id,
                   "payment_method": "PAYMENT_METHOD_EXTERNAL"}, customer)
    http_get(f"/api/v1/orders/{external}", customer, consistency(placed))
    done = wait_for_checkout(external, customer)
    assert done["status"] == "completed", done
    steps = [e.get("step") for e in done["timeline"]]
    assert "charge" in steps and "debit-balance" not in steps, steps
    order = http_get(f"/api/v1/orders/{external}", customer, f"order-{external}@2")
    assert order["status"] == "paid", order
    with urllib.request.urlopen(f"{PROVIDER}/v1/deliveries?order_id={external}", timeout=10) as r:
        deliveries = json.load(r)
    print(f"< provider deliveries: {json.dumps(deliveries)[:300]}")


def main():
    customer_id = str(uuid.uuid4())
    product_id, sku_id = str(uuid.uuid4()), str(uuid.uuid4())
    admin = token("admin-demo", "admin")
    customer = token(customer_id, "customer")

    register = {"command_id": str(uuid.uuid4()), "customer_id": customer_id,
                "email": "ada@example.com", "name": "Ada Lovelace", "currency": "EUR"}
    first = call("commerce.customer.v1.CustomerCommands", "Register", register, customer)
    again = call("commerce.customer.v1.CustomerCommands", "Register", register, customer)
    assert first == again, "the same command id must return the same result"
    deposited = call("commerce.customer.v1.CustomerCommands", "DepositBalance",
                     {"command_id": str(uuid.uuid4()), "customer_id": customer_id,
                      "amount": {"amount_minor": 5000, "currency": "EUR"}}, customer)
    if HTTP:
        me = http_get("/api/v1/me", customer, consistency(deposited))
        assert me["balance"] == {"amount_minor": 5000, "currency": "EUR"}, me
        http_get("/api/v1/me", expect=401)
        http_get(f"/api/v1/admin/customers/{customer_id}", customer, expect=403)
        seen = http_get(f"/api/v1/admin/customers/{customer_id}", admin)
        assert seen["name"] == "Ada Lovelace", seen

    call("commerce.product.v1.ProductCommands", "CreateProduct",
         {"command_id": str(uuid.uuid4()), "product_id": product_id,
          "title": "Organic cotton T-shirt", "description": "Navy, heavyweight"}, admin)
    expect_status(grpc.StatusCode.PERMISSION_DENIED, lambda: call(
        "commerce.product.v1.ProductCommands", "CreateProduct",
        {"command_id": str(uuid.uuid4()), "product_id": str(uuid.uuid4()), "title": "Nope"}, customer))
    call("commerce.product.v1.ProductCommands", "AddSku",
         {"command_id": str(uuid.uuid4()), "product_id": product_id, "sku_id": sku_id,
          "price": {"amount_minor": 1999, "currency": "EUR"}, "attributes": {"size": "M"}}, admin)
    restocked = call("commerce.product.v1.ProductCommands", "RestockSku",
                     {"command_id": str(uuid.uuid4()), "product_id": product_id, "sku_id": sku_id,
                      "quantity": 10}, admin)
    assert restocked["result"]["stream_id"] == f"product-{product_id}"
    if HTTP:
        product = http_get(f"/api/v1/products/{product_id}", customer, consistency(restocked))
        assert [sku["available"] for sku in product["skus"]] == [10], product
        # Earlier sessions against the same read models left products of the same title: page
        # through the title search (5 a page, following next_cursor) until this one shows up.
        path, pages = "/api/v1/products?q=organic&limit=5", 0
        while True:
            found = http_get(path, customer)
            pages += 1
            if product_id in [p["product_id"] for p in found["products"]]:
                break
            assert found["next_cursor"] and pages < 1000, f"{product_id} not listed: {found}"
            path = f"/api/v1/products?q=organic&limit=5&cursor={found['next_cursor']}"
        http_get("/api/v1/products/not-a-uuid", customer, expect=400)
        http_get(f"/api/v1/orders/{uuid.uuid4()}", customer, expect=404)

    if os.environ.get("DEMO_SKIP_CART") != "1":
        added = call("commerce.cart.v1.CartCommands", "AddItem",
                     {"command_id": str(uuid.uuid4()), "customer_id": customer_id,
                      "product_id": product_id, "sku_id": sku_id, "quantity": 2}, customer)
        assert added["result"]["stream_id"] == f"cart-{customer_id}"
        if HTTP:
            cart = http_get("/api/v1/cart", customer, consistency(added))
            assert [(line["sku_id"], line["quantity"]) for line in cart["lines"]] == [(sku_id, 2)], cart
            assert cart["valid"] and cart["total"]["amount_minor"] == 3998, cart
        if os.environ.get("DEMO_SKIP_CHECKOUT") != "1":
            buy(customer_id, product_id, sku_id, customer, admin)
    if os.environ.get("DEMO_WRITE_ENV"):
        # For scripts/run's curl examples: who the demo customer is, and a day-long token.
        with open(os.environ["DEMO_WRITE_ENV"], "w") as out:
            out.write(f"DEMO_CUSTOMER_ID={customer_id}\nDEMO_PRODUCT_ID={product_id}\n"
                      f"DEMO_TOKEN={token(customer_id, 'customer', ttl=86400)}\n")
    print("demo session: ok")


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, grpc.RpcError) as err:
        print(f"demo session failed: {err}", file=sys.stderr)
        sys.exit(1)
