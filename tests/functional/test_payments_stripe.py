"""payment-service against a fake Stripe that speaks Stripe's wire protocol
(support/fake_stripe.py), on stacks of their own: PaymentIntents over form bodies with the secret
key, a pinned Stripe-Version and idempotency keys; declines; exactly one charge per order under
1,000 attempts and triplicated, shuffled webhooks; a provider that is down; kill -9 between the
charge and the answer; an order that expired while its payment was in flight."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from support.catalog import Concurrent, admin_token, create_product, mint, object_id, statuses, stock_of, tag
from support.client import Client, assert_problem, body
from support.fake_stripe import FakeStripe
from support.procs import wait_until

pytestmark = pytest.mark.services("products", "cart", "orders", "payments")

SERVICES = ("products", "cart", "orders", "payments")
API_KEY = "sk_test_emporium_" + "x" * 8
WEBHOOK_SECRET = "whsec_fake_" + "y" * 16


def stripe_env(fake: FakeStripe, **extra) -> dict:
    env = {"STRIPE_SECRET_KEY": API_KEY, "STRIPE_API_BASE": fake.url, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
           "STRIPE_TIMEOUT_MS": "10000"}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def fake():
    with FakeStripe(API_KEY, webhook_secret=WEBHOOK_SECRET, auto_deliver=False) as f:
        yield f


@pytest.fixture(scope="module")
def s(make_stack, fake):
    env = {"payments": stripe_env(fake, IDEMPOTENCY_LEASE_MS="3000")}
    with make_stack("stripe", services=SERVICES, service_env=env) as stack:
        fake.set_webhook(stack.url + "/api/payments/webhook", WEBHOOK_SECRET, auto_deliver=False)
        yield stack


def customer(stack) -> dict:
    uid = object_id()
    return {"id": uid, "token": mint(stack, user_id=uid)}


def new_order(client, stack, product, who=None, quantity=1) -> tuple[dict, dict]:
    who = who or customer(stack)
    resp = client.post(f"/api/orders/{who['id']}", token=who["token"],
                       json={"items": [{"productId": product["_id"], "quantity": quantity}]})
    assert resp.status_code == 201, resp.text
    return who, body(resp)


def pay(client, who, order_id, method="pm_card_visa", key=None, **kw):
    headers = {"Idempotency-Key": key} if key else None
    return client.post(f"/api/payments/{order_id}", token=who["token"], json={"paymentMethodId": method},
                       headers=headers, **kw)


def status_of(client, who, order_id) -> str:
    return body(client.get(f"/api/orders/{who['id']}/{order_id}", token=who["token"]))["status"]


def history_of(client, who, order_id) -> list[str]:
    return [h["status"] for h in body(client.get(f"/api/orders/{who['id']}/{order_id}", token=who["token"]))["history"]]


def test_charges_speak_stripes_protocol_and_declines_are_402(s, fake):
    client = s.client()
    product = create_product(client, admin_token(s), price=20, stock=50)
    who, order = new_order(client, s, product)
    before = len(fake.request_log(method="POST", path="/v1/payment_intents"))
    resp = pay(client, who, order["_id"])
    assert resp.status_code == 201, resp.text
    payment = body(resp)
    assert payment["status"] == "succeeded" and payment["providerPaymentId"].startswith("pi_")
    assert status_of(client, who, order["_id"]) == "Paid"
    sent = fake.request_log(method="POST", path="/v1/payment_intents")[before:]
    assert len(sent) == 1
    req = sent[0]
    assert req["headers"]["authorization"] == f"Bearer {API_KEY}"
    assert req["stripe_version"] == "2024-06-20"
    assert req["idempotency_key"] and payment["_id"] in req["idempotency_key"]
    assert req["params"]["amount"] == "2000" and req["params"]["currency"] == "usd"
    assert req["params"]["metadata"]["orderId"] == order["_id"]
    assert req["params"]["confirm"] == "true"
    assert req["params"]["automatic_payment_methods"] == {"enabled": "true", "allow_redirects": "never"}
    assert "x-internal-token" not in req["headers"]
    # A decline: 402 with Stripe's reason, the order PaymentFailed; visa then succeeds.
    who2, order2 = new_order(client, s, product)
    doc = assert_problem(pay(client, who2, order2["_id"], "pm_card_chargeDeclinedInsufficientFunds"), 402)
    assert "insufficient_funds" in doc["detail"], doc
    assert wait_until(lambda: status_of(client, who2, order2["_id"]) == "PaymentFailed", 15)
    assert pay(client, who2, order2["_id"]).status_code == 201
    assert status_of(client, who2, order2["_id"]) == "Paid"
    assert fake.succeeded_charges_by().get(order2["_id"]) == 1


def test_1000_attempts_for_100_orders_and_shuffled_webhooks_charge_each_order_once(s, fake):
    client = s.client()
    product = create_product(client, admin_token(s), price=5, stock=1000)
    orders = [new_order(client, s, product) for _ in range(100)]
    fake.auto_deliver = True
    calls = []
    for who, order in orders:
        key = "k-" + tag()
        for attempt in range(10):
            use_key = key if attempt % 2 == 0 else None

            def call(c, who=who, oid=order["_id"], use_key=use_key):
                return pay(c, who, oid, key=use_key, expect_5xx=True)

            calls.append((s.url, call))
    try:
        runner = Concurrent(retries=3)
        # In waves of 100, so every order sees concurrent duplicates while the machine keeps up.
        responses = []
        for i in range(0, len(calls), 100):
            responses += runner.run(calls[i:i + 100])
        assert not runner.errors, runner.errors[:3]
        counts = statuses(responses)
        assert set(counts) <= {201, 409}, counts
        assert fake.wait_deliveries(timeout=30)
        codes = fake.deliver_all_shuffled(times=3, type="payment_intent.succeeded")
        assert set(codes) <= {200}, set(codes)
    finally:
        fake.auto_deliver = False
    # Then each order once more in sequence, with its key and without: a replay or already_paid.
    for who, order in orders[:20]:
        for use_key in (True, False):
            resp = pay(client, who, order["_id"], key=("k-seq-" + order["_id"]) if use_key else None)
            assert resp.status_code == 409 and body(resp)["code"] == "already_paid", resp.text
    charges = fake.succeeded_charges_by()
    for who, order in orders:
        assert charges.get(order["_id"]) == 1, (order["_id"], charges.get(order["_id"]))
        assert wait_until(lambda: status_of(client, who, order["_id"]) == "Paid", 15)
        assert history_of(client, who, order["_id"]).count("Paid") == 1
    print(f"1000 attempts: {dict(counts)}")


def test_webhooks_failing_verification_change_nothing(s, fake):
    client = s.client()
    product = create_product(client, admin_token(s), price=5, stock=10)
    who, order = new_order(client, s, product)
    resp = pay(client, who, order["_id"], "pm_card_authenticationRequired")
    assert resp.status_code == 201 and body(resp)["status"] == "requires_action", resp.text
    pi = body(resp)["providerPaymentId"]
    fake.complete_action(pi, succeed=True)  # records payment_intent.succeeded (not delivered)
    event = [e for e in fake.events("payment_intent.succeeded") if e["data"]["object"]["id"] == pi][-1]
    assert fake.deliver(event, tamper=True) == [400]
    assert fake.deliver(event, timestamp=int(time.time()) - 301) == [400]
    assert fake.deliver(event, secret="whsec_wrong") == [400]
    assert status_of(client, who, order["_id"]) == "Pending"
    assert fake.deliver(event, times=3) == [200, 200, 200]
    assert wait_until(lambda: status_of(client, who, order["_id"]) == "Paid", 15)
    assert history_of(client, who, order["_id"]).count("Paid") == 1


def test_a_provider_that_is_down_is_502_changes_nothing_and_the_next_attempt_succeeds(s, fake):
    client = s.client()
    product = create_product(client, admin_token(s), price=7, stock=10)
    who, order = new_order(client, s, product)
    fake.fail_next(None, "503", path="/v1/payment_intents")
    try:
        doc = assert_problem(pay(client, who, order["_id"], expect_5xx=True), 502)
        assert doc["requestId"]
    finally:
        fake.clear_faults()
    assert status_of(client, who, order["_id"]) == "Pending"
    resp = pay(client, who, order["_id"])
    assert resp.status_code == 201 and body(resp)["status"] == "succeeded", resp.text
    assert status_of(client, who, order["_id"]) == "Paid"
    assert fake.succeeded_charges_by().get(order["_id"]) == 1


def test_kill_9_between_the_charge_and_the_answer_then_a_retry_charges_once(s, fake):
    client = s.client()
    product = create_product(client, admin_token(s), price=9, stock=10)
    who, order = new_order(client, s, product)
    key = "crash-" + tag()
    fake.delay(3.0, n=1, method="POST", path="/v1/payment_intents", after_work=True)
    outcome: list = []

    def first_attempt():
        with Client(s.payments[0].url, timeout=30) as c:
            try:
                outcome.append(pay(c, who, order["_id"], key=key, check=False))
            except requests.RequestException as exc:
                outcome.append(exc)

    t = threading.Thread(target=first_attempt)
    t.start()
    assert wait_until(lambda: fake.succeeded_charges_by().get(order["_id"]) == 1, 15)  # charged, not answered
    s.kill_instance("payments", 0)
    t.join()
    assert outcome and isinstance(outcome[0], requests.RequestException), outcome
    s.restart_instance(0, "payments")
    deadline = time.monotonic() + 60
    while True:  # the dead claim is taken over once its lease (3 s here) has passed
        resp = pay(s.direct(1, "payments"), who, order["_id"], key=key)
        if resp.status_code != 409 or time.monotonic() > deadline:
            break
        time.sleep(float(resp.headers.get("Retry-After", "1")))
    assert resp.status_code == 201 and body(resp)["status"] == "succeeded", resp.text
    assert fake.succeeded_charges_by().get(order["_id"]) == 1
    assert status_of(client, who, order["_id"]) == "Paid"
    assert history_of(client, who, order["_id"]).count("Paid") == 1


def test_partial_refunds_add_up_and_never_exceed_the_charge(s, fake):
    client = s.client()
    admin = admin_token(s)
    product = create_product(client, admin, price=10, stock=10)
    who, order = new_order(client, s, product)
    payment = body(pay(client, who, order["_id"]))
    pid, pi = payment["_id"], payment["providerPaymentId"]
    key = "refund-" + tag()
    for _ in range(3):
        resp = client.post(f"/api/payments/{pid}/refund", token=admin, json={"amount": 400},
                           headers={"Idempotency-Key": key})
        assert resp.status_code == 201, resp.text
    assert fake.refunded_amount(pi) == 400
    assert client.post(f"/api/payments/{pid}/refund", token=admin, json={"amount": 500}).status_code == 201
    assert_problem(client.post(f"/api/payments/{pid}/refund", token=admin, json={"amount": 101}), 409)
    assert client.post(f"/api/payments/{pid}/refund", token=admin, json={}).status_code == 201
    assert fake.refunded_amount(pi) == 1000
    doc = body(client.get(f"/api/payments/{pid}", token=admin))
    assert doc["refunded"] == 1000 and doc["status"] == "refunded"


def test_an_order_that_expired_while_its_payment_was_in_flight_is_refunded(make_stack):
    with FakeStripe(API_KEY, webhook_secret=WEBHOOK_SECRET, auto_deliver=False) as f:
        env = {"orders": {"ORDER_TTL": "2", "ORDER_WORKER_POLL_MS": "100"},
               "products": {"RESERVATION_TTL": "60"},
               "payments": stripe_env(f, PAYMENT_LEASE_TTL="5")}
        with make_stack("stripe_ttl", services=SERVICES, service_env=env, order_instances=1,
                        payment_instances=1) as st:
            client = st.client()
            product = create_product(client, admin_token(st), price=15, stock=10)
            who, order = new_order(client, st, product)
            f.delay(8.0, n=1, method="POST", path="/v1/payment_intents", after_work=True)
            resp = pay(client, who, order["_id"])
            # The charge succeeded after the lease ended and the order expired: refunded at once.
            assert resp.status_code == 201, resp.text
            payment = body(resp)
            assert status_of(client, who, order["_id"]) == "Expired"
            assert stock_of(client, product["_id"]) == 10
            assert wait_until(lambda: f.refunded_amount(payment["providerPaymentId"]) == 1500, 30)
            doc = body(client.get(f"/api/payments/{payment['_id']}", token=who["token"]))
            assert wait_until(lambda: body(client.get(f"/api/payments/{payment['_id']}",
                                                      token=who["token"]))["status"] == "refunded", 30), doc
            assert f.succeeded_charges_by().get(order["_id"]) == 1


def status_of_direct(stack, who, order_id):
    try:
        resp = requests.get(f"{stack.orders[0].url}/api/orders/{who['id']}/{order_id}",
                            headers={"Authorization": f"Bearer {who['token']}"}, timeout=2)
        return resp.json().get("status")
    except requests.RequestException:
        return None


def test_an_order_service_down_at_the_charge_becomes_paid_when_it_is_back(s, fake):
    client = s.client()
    product = create_product(client, admin_token(s), price=11, stock=10)
    who, order = new_order(client, s, product)
    fake.delay(2.0, n=1, method="POST", path="/v1/payment_intents", after_work=True)
    outcome: list = []

    def attempt():
        with Client(s.url, timeout=60) as c:
            outcome.append(pay(c, who, order["_id"]))

    t = threading.Thread(target=attempt)
    t.start()
    assert wait_until(lambda: fake.succeeded_charges_by().get(order["_id"]) == 1, 15)
    for i in range(len(s.orders)):  # order-service is gone while the payment succeeds
        s.kill_instance("orders", i)
    t.join(timeout=60)
    assert outcome and outcome[0].status_code == 201, outcome
    assert status_of_direct(s, who, order["_id"]) is None  # nobody to ask
    for i in range(len(s.orders)):
        s.restart_instance(i, "orders")
    assert status_of(client, who, order["_id"]) == "Pending"
    assert body(outcome[0])["status"] == "succeeded"
    # The payment's worker tells order-service once it answers again: Paid, exactly once.
    assert wait_until(lambda: status_of(client, who, order["_id"]) == "Paid", 90)
    assert history_of(client, who, order["_id"]).count("Paid") == 1
    assert fake.succeeded_charges_by().get(order["_id"]) == 1


def test_failed_and_refunded_events_drive_the_same_transitions(s, fake):
    client = s.client()
    admin = admin_token(s)
    product = create_product(client, admin, price=12, stock=10)
    who, order = new_order(client, s, product)
    resp = pay(client, who, order["_id"], "pm_card_authenticationRequired")
    assert resp.status_code == 201 and body(resp)["status"] == "requires_action", resp.text
    payment = body(resp)
    fake.complete_action(payment["providerPaymentId"], succeed=False)
    failed = [e for e in fake.events("payment_intent.payment_failed")
              if e["data"]["object"]["id"] == payment["providerPaymentId"]]
    assert failed
    assert fake.deliver(failed[-1], times=2) == [200, 200]
    doc = body(client.get(f"/api/payments/{payment['_id']}", token=who["token"]))
    assert doc["status"] == "failed" and doc["failureReason"], doc
    assert wait_until(lambda: status_of(client, who, order["_id"]) == "PaymentFailed", 15)
    # A new attempt pays it; a refund made outside the API (the dashboard) is learnt from
    # charge.refunded.
    paid = body(pay(client, who, order["_id"]))
    assert paid["status"] == "succeeded"
    dashboard = requests.post(f"{fake.url}/v1/refunds", headers={"Authorization": f"Bearer {API_KEY}"},
                              data={"payment_intent": paid["providerPaymentId"], "amount": "300"}, timeout=10)
    assert dashboard.status_code == 200, dashboard.text
    refunded = [e for e in fake.events("charge.refunded")
                if e["data"]["object"]["payment_intent"] == paid["providerPaymentId"]]
    assert refunded
    assert fake.deliver(refunded[-1], times=3) == [200, 200, 200]
    doc = body(client.get(f"/api/payments/{paid['_id']}", token=admin))
    assert doc["refunded"] == 300 and doc["status"] == "succeeded", doc
    over = assert_problem(client.post(f"/api/payments/{paid['_id']}/refund", token=admin, json={"amount": 1000}), 409)
    assert over["refundable"] == 900


def test_a_refund_retried_after_the_provider_failed_refunds_once(s, fake):
    client = s.client()
    admin = admin_token(s)
    product = create_product(client, admin, price=10, stock=10)
    who, order = new_order(client, s, product)
    paid = body(pay(client, who, order["_id"]))
    key = "refund-retry-" + tag()
    fake.fail_next(None, "drop_after_charge", path="/v1/refunds")  # refunded, never answered
    try:
        assert_problem(client.post(f"/api/payments/{paid['_id']}/refund", token=admin, json={"amount": 400},
                                   headers={"Idempotency-Key": key}, expect_5xx=True), 502)
    finally:
        fake.clear_faults()
    assert fake.refunded_amount(paid["providerPaymentId"]) == 400  # it did happen
    resp = client.post(f"/api/payments/{paid['_id']}/refund", token=admin, json={"amount": 400},
                       headers={"Idempotency-Key": key})
    assert resp.status_code == 201 and body(resp)["status"] == "succeeded", resp.text
    assert fake.refunded_amount(paid["providerPaymentId"]) == 400  # once
    doc = body(client.get(f"/api/payments/{paid['_id']}", token=admin))
    assert doc["refunded"] == 400 and [r["amount"] for r in doc["refunds"]] == [400]


def test_a_refund_the_provider_refuses_is_409_and_gives_the_amount_back(s, fake):
    client = s.client()
    admin = admin_token(s)
    product = create_product(client, admin, price=10, stock=10)
    who, order = new_order(client, s, product)
    paid = body(pay(client, who, order["_id"]))
    # Refunded in full from the dashboard; the charge.refunded event is not delivered (yet).
    dashboard = requests.post(f"{fake.url}/v1/refunds", headers={"Authorization": f"Bearer {API_KEY}"},
                              data={"payment_intent": paid["providerPaymentId"]}, timeout=10)
    assert dashboard.status_code == 200, dashboard.text
    doc = assert_problem(client.post(f"/api/payments/{paid['_id']}/refund", token=admin, json={"amount": 300}), 409)
    assert doc["code"] == "refund_refused", doc
    payment = body(client.get(f"/api/payments/{paid['_id']}", token=admin))
    assert payment["refunded"] == 0 and payment["status"] == "succeeded", payment
    assert [r["status"] for r in payment["refunds"]] == ["failed"]
