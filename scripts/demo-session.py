#!/usr/bin/env python3
"""A working session against the command services, through server reflection only.

Registers a customer, creates a product with a SKU, restocks it and adds it to the customer's
cart, printing each call and its consistency token. Uses grpc-requests (PyPI), a reflection
client: no .proto files needed. Tokens come from `commerce-token`.

    scripts/demo-session.py            # against scripts/run's services (ports 50051...)
    DEMO_CUSTOMER=127.0.0.1:51051 ... scripts/demo-session.py

Exits non-zero on the first unexpected answer; scripts/test runs it.
"""
import json
import os
import subprocess
import sys
import uuid

import grpc
from grpc_requests import Client

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROFILE = os.environ.get("DEMO_PROFILE", "release")
ENDPOINTS = {
    "customer": os.environ.get("DEMO_CUSTOMER", "127.0.0.1:50051"),
    "product": os.environ.get("DEMO_PRODUCT", "127.0.0.1:50052"),
    "cart": os.environ.get("DEMO_CART", "127.0.0.1:50053"),
}


def token(subject, role):
    binary = os.path.join(ROOT, "target", PROFILE, "commerce-token")
    return subprocess.run([binary, subject, role], check=True, capture_output=True, text=True).stdout.strip()


def call(service_name, method, request, bearer):
    context = service_name.split(".")[1]
    client = Client.get_by_endpoint(ENDPOINTS[context])
    print(f"> {service_name}/{method} {json.dumps(request)}")
    reply = client.request(service_name, method, request, metadata=[("authorization", f"Bearer {bearer}")])
    print(f"< {json.dumps(reply)}")
    return reply


def expect_status(code, fn):
    try:
        fn()
    except grpc.RpcError as err:
        if err.code() != code:
            raise
        print(f"< {err.code().name}: {err.details()}")
        return
    raise AssertionError(f"expected {code.name}")


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
    call("commerce.customer.v1.CustomerCommands", "DepositBalance",
         {"command_id": str(uuid.uuid4()), "customer_id": customer_id,
          "amount": {"amount_minor": 5000, "currency": "EUR"}}, customer)

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

    if os.environ.get("DEMO_SKIP_CART") != "1":
        added = call("commerce.cart.v1.CartCommands", "AddItem",
                     {"command_id": str(uuid.uuid4()), "customer_id": customer_id,
                      "product_id": product_id, "sku_id": sku_id, "quantity": 2}, customer)
        assert added["result"]["stream_id"] == f"cart-{customer_id}"
    print("demo session: ok")


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, grpc.RpcError) as err:
        print(f"demo session failed: {err}", file=sys.stderr)
        sys.exit(1)
