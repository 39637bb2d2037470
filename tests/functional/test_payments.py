"""payment-service (API.md payments, DESIGN §12) through the gateway on the simulated provider
(STRIPE_SECRET_KEY unset, the local default): paying an order once, declines, ownership, amounts,
idempotency keys, refunds, and the webhook's signature check. The Stripe wire protocol against a
fake Stripe server is in test_payments_stripe.py."""

from __future__ import annotations

import json
import time

import pytest

from support.catalog import Concurrent, admin_token, create_product, mint, object_id, statuses, stock_of, tag
from support.client import assert_problem, body, error_fields
from support.procs import wait_until

pytestmark = pytest.mark.services("products", "cart", "orders", "payments")

PAYMENT_FIELDS = ("_id", "orderId", "userId", "amount", "currency", "status", "paymentMethod",
                  "providerPaymentId", "failureReason", "paymentDate", "refunds", "__v")


def customer(stack) -> dict:
    uid = object_id()
    return {"id": uid, "token": mint(stack, user_id=uid)}


def order_for(client, stack, admin, who=None, price=12.5, quantity=2) -> tuple[dict, dict]:
    who = who or customer(stack)
    p = create_product(client, admin, price=price, stock=100)
    resp = client.post(f"/api/orders/{who['id']}", token=who["token"],
                       json={"items": [{"productId": p["_id"], "quantity": quantity}]})
    assert resp.status_code == 201, resp.text
    return who, body(resp)


def pay(client, who, order_id, method="pm_card_visa", key=None, **fields):
    headers = {"Idempotency-Key": key} if key else None
    return client.post(f"/api/payments/{order_id}", token=who["token"],
                       json={"paymentMethodId": method, **fields}, headers=headers)


def order_status(client, who, order_id) -> dict:
    resp = client.get(f"/api/orders/{who['id']}/{order_id}", token=who["token"])
    assert resp.status_code == 200, resp.text
    return body(resp)


@pytest.fixture
def admin(stack) -> str:
    return admin_token(stack)


def test_a_visa_payment_succeeds_once_and_the_order_is_paid(stack, client, admin):
    who, order = order_for(client, stack, admin)
    resp = pay(client, who, order["_id"])
    assert resp.status_code == 201, resp.text
    payment = body(resp)
    missing = [k for k in PAYMENT_FIELDS if k not in payment]
    assert not missing, missing
    assert payment["status"] == "succeeded" and payment["amount"] == 2500 and payment["currency"] == "usd"
    assert payment["paymentMethod"] == "stripe" and payment["providerPaymentId"].startswith("pi_")
    after = order_status(client, who, order["_id"])
    assert after["status"] == "Paid"
    assert [h["status"] for h in after["history"]] == ["Pending", "Paid"]
    again = assert_problem(pay(client, who, order["_id"]), 409)
    assert again["code"] == "already_paid"
    listed = client.get(f"/api/payments/order/{order['_id']}", token=who["token"])
    assert listed.status_code == 200 and [p["_id"] for p in body(listed)] == [payment["_id"]]
    got = client.get(f"/api/payments/{payment['_id']}", token=who["token"])
    assert got.status_code == 200 and body(got)["status"] == "succeeded"
    assert [h["status"] for h in order_status(client, who, order["_id"])["history"]] == ["Pending", "Paid"]


def test_a_decline_is_402_with_the_reason_and_a_retry_with_visa_succeeds(stack, client, admin):
    who, order = order_for(client, stack, admin)
    resp = pay(client, who, order["_id"], "pm_card_chargeDeclined")
    doc = assert_problem(resp, 402)
    assert doc["code"] == "card_declined" and "generic_decline" in doc["detail"], doc
    failed = body(client.get(f"/api/payments/{doc['paymentId']}", token=who["token"]))
    assert failed["status"] == "failed" and failed["failureReason"] == "generic_decline"
    assert wait_until(lambda: order_status(client, who, order["_id"])["status"] == "PaymentFailed", 15)
    for method, reason in (("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
                           ("pm_card_chargeDeclinedExpiredCard", "expired_card")):
        doc = assert_problem(pay(client, who, order["_id"], method), 402)
        assert reason in doc["detail"], doc
    resp = pay(client, who, order["_id"])
    assert resp.status_code == 201 and body(resp)["status"] == "succeeded", resp.text
    final = order_status(client, who, order["_id"])
    assert final["status"] == "Paid"
    assert [h["status"] for h in final["history"]][-2:] == ["Pending", "Paid"]
    assert [h["status"] for h in final["history"]].count("Paid") == 1


def test_authentication_required_answers_requires_action_with_a_client_secret(stack, client, admin):
    who, order = order_for(client, stack, admin)
    resp = pay(client, who, order["_id"], "pm_card_authenticationRequired")
    assert resp.status_code == 201, resp.text
    doc = body(resp)
    assert doc["status"] == "requires_action" and doc["clientSecret"], doc
    assert order_status(client, who, order["_id"])["status"] == "Pending"
    busy = assert_problem(pay(client, who, order["_id"]), 409)  # one open payment per order
    assert busy["code"] == "payment_in_flight"


def test_bad_input_ownership_and_amounts(stack, client, admin):
    who, order = order_for(client, stack, admin)
    oid = order["_id"]
    other = customer(stack)
    assert_problem(pay(client, other, oid), 403)
    assert_problem(client.post(f"/api/payments/{oid}", json={"paymentMethodId": "pm_card_visa"}), 401)
    assert_problem(pay(client, who, object_id()), 404)
    assert_problem(pay(client, who, "nope"), 404)
    for fields, field in (({"paymentMethodId": ""}, "paymentMethodId"), ({"paymentMethodId": 7}, "paymentMethodId"),
                          ({"paymentMethodId": "pm card"}, "paymentMethodId"), ({}, "paymentMethodId"),
                          ({"paymentMethodId": "pm_card_visa", "amount": 0}, "amount"),
                          ({"paymentMethodId": "pm_card_visa", "amount": 12.5}, "amount")):
        doc = assert_problem(client.post(f"/api/payments/{oid}", token=who["token"], json=fields), 400)
        assert field in error_fields(doc), (fields, doc)
    doc = assert_problem(pay(client, who, oid, amount=2499), 409)
    assert doc["code"] == "amount_mismatch" and doc["amount"] == 2500
    assert order_status(client, who, oid)["status"] == "Pending"
    resp = pay(client, who, oid, amount=2500)
    assert resp.status_code == 201, resp.text
    pid = body(resp)["_id"]
    assert_problem(client.get(f"/api/payments/{pid}", token=other["token"]), 403)
    assert_problem(client.get(f"/api/payments/order/{oid}", token=other["token"]), 403)
    assert client.get(f"/api/payments/{pid}", token=admin).status_code == 200
    assert_problem(client.get(f"/api/payments/{object_id()}", token=who["token"]), 404)


def test_one_key_many_times_and_concurrent_unkeyed_attempts_charge_once(stack, client, admin):
    who, order = order_for(client, stack, admin)
    key = "pay-" + tag()

    def keyed(_):
        return stack.url, lambda c: pay(c, who, order["_id"], key=key)

    def unkeyed(_):
        return stack.url, lambda c: pay(c, who, order["_id"])

    runner = Concurrent()
    responses = runner.run([keyed(i) for i in range(10)] + [unkeyed(i) for i in range(10)])
    assert not runner.errors, runner.errors[:3]
    counts = statuses(responses)
    assert set(counts) <= {201, 409}, counts
    succeeded = {body(r)["_id"] for r in responses if r.status_code == 201}
    assert len(succeeded) == 1, counts
    for _ in range(5):
        resp = pay(client, who, order["_id"], key=key)
        assert resp.status_code in (201, 409), resp.text
        if resp.status_code == 201:
            assert body(resp)["_id"] in succeeded
    payments = body(client.get(f"/api/payments/order/{order['_id']}", token=who["token"]))
    assert [p["status"] for p in payments] == ["succeeded"]
    history = [h["status"] for h in order_status(client, who, order["_id"])["history"]]
    assert history == ["Pending", "Paid"]
    # The key keeps its answer only when a keyed request made the payment (refusals are not
    # stored): then another body under it is 422; else the order is simply paid already.
    if any(r.status_code == 201 for r in responses[:10]):
        doc = assert_problem(pay(client, who, order["_id"], method="pm_card_mastercard", key=key), 422)
        assert doc["code"] == "idempotency_key_reused"
    else:
        doc = assert_problem(pay(client, who, order["_id"], method="pm_card_mastercard", key=key), 409)
        assert doc["code"] == "already_paid"


def test_refunds_add_up_never_exceed_the_charge_and_a_repeated_key_refunds_once(stack, client, admin):
    who, order = order_for(client, stack, admin, price=10, quantity=1)
    pid = body(pay(client, who, order["_id"]))["_id"]
    assert_problem(client.post(f"/api/payments/{pid}/refund", token=who["token"], json={}), 403)
    key = "refund-" + tag()
    first = client.post(f"/api/payments/{pid}/refund", token=admin, json={"amount": 300},
                        headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    again = client.post(f"/api/payments/{pid}/refund", token=admin, json={"amount": 300},
                        headers={"Idempotency-Key": key})
    assert again.status_code == 201 and body(again) == body(first)
    assert client.post(f"/api/payments/{pid}/refund", token=admin, json={"amount": 500}).status_code == 201
    too_much = assert_problem(client.post(f"/api/payments/{pid}/refund", token=admin, json={"amount": 201}), 409)
    assert too_much["code"] == "refund_exceeds_charge" and too_much["refundable"] == 200
    rest = client.post(f"/api/payments/{pid}/refund", token=admin, json={})
    assert rest.status_code == 201 and body(rest)["amount"] == 200, rest.text
    assert_problem(client.post(f"/api/payments/{pid}/refund", token=admin, json={}), 409)
    doc = body(client.get(f"/api/payments/{pid}", token=admin))
    assert doc["refunded"] == 1000 and doc["status"] == "refunded"
    assert sum(r["amount"] for r in doc["refunds"]) == 1000 and len(doc["refunds"]) == 3


def sign(secret: str, payload: bytes, t: int | None = None) -> str:
    import hashlib
    import hmac
    t = int(time.time()) if t is None else t
    sig = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={sig}"


def test_webhooks_with_a_bad_signature_an_old_timestamp_or_a_changed_body_are_400(stack, client, admin):
    who, order = order_for(client, stack, admin)
    resp = pay(client, who, order["_id"], "pm_card_authenticationRequired")
    payment = body(resp)
    event = {"id": "evt_" + tag(), "object": "event", "type": "payment_intent.succeeded",
             "data": {"object": {"id": payment["providerPaymentId"], "object": "payment_intent",
                                 "status": "succeeded", "metadata": {"paymentId": payment["_id"]}}}}
    raw = json.dumps(event).encode()
    headers = {"Content-Type": "application/json"}
    bad = [
        {"Stripe-Signature": sign("whsec_wrong", raw)},
        {"Stripe-Signature": sign(stack.webhook_secret, raw, int(time.time()) - 301)},
        {"Stripe-Signature": "garbage"},
        {},
    ]
    for extra in bad:
        assert_problem(client.post("/api/payments/webhook", data=raw, headers={**headers, **extra}), 400)
    changed = raw.replace(b'"succeeded"', b'"succeedee"', 1)
    assert_problem(client.post("/api/payments/webhook", data=changed,
                               headers={**headers, "Stripe-Signature": sign(stack.webhook_secret, raw)}), 400)
    assert order_status(client, who, order["_id"])["status"] == "Pending"
    # The right signature (even among others) settles it once, however often it comes.
    for _ in range(3):
        good = sign(stack.webhook_secret, raw)
        resp = client.post("/api/payments/webhook", data=raw,
                           headers={**headers, "Stripe-Signature": good + ",v1=" + "0" * 64})
        assert resp.status_code == 200, resp.text
    assert wait_until(lambda: order_status(client, who, order["_id"])["status"] == "Paid", 15)
    assert body(client.get(f"/api/payments/{payment['_id']}", token=who["token"]))["status"] == "succeeded"
    history = [h["status"] for h in order_status(client, who, order["_id"])["history"]]
    assert history.count("Paid") == 1


def test_an_admin_cancelling_a_paid_order_refunds_its_payment_once(stack, client, admin):
    who, order = order_for(client, stack, admin, price=10, quantity=2)
    payment = body(pay(client, who, order["_id"]))
    assert payment["status"] == "succeeded"
    partial = client.post(f"/api/payments/{payment['_id']}/refund", token=admin, json={"amount": 500})
    assert partial.status_code == 201, partial.text
    resp = client.post(f"/api/orders/{who['id']}/{order['_id']}/cancel", token=admin)
    assert resp.status_code == 200 and body(resp)["status"] == "Cancelled", resp.text

    def refunded():
        return body(client.get(f"/api/payments/{payment['_id']}", token=admin))

    assert wait_until(lambda: refunded()["refunded"] == 2000, 15), refunded()
    doc = refunded()
    assert doc["status"] == "refunded"
    assert sorted(r["amount"] for r in doc["refunds"]) == [500, 1500]
    assert [h["status"] for h in order_status(client, who, order["_id"])["history"]] == \
        ["Pending", "Paid", "Cancelled"]
    assert_problem(client.post(f"/api/orders/{who['id']}/{order['_id']}/cancel", token=admin), 409)
    assert refunded()["refunded"] == 2000


def test_a_signed_event_whose_object_is_not_an_object_is_400(stack, client):
    for data in ({"object": "pi_123"}, {"object": [1, 2]}):
        raw = json.dumps({"id": "evt_" + tag(), "type": "payment_intent.payment_failed", "data": data}).encode()
        resp = client.post("/api/payments/webhook", data=raw,
                           headers={"Content-Type": "application/json",
                                    "Stripe-Signature": sign(stack.webhook_secret, raw)})
        assert_problem(resp, 400)
