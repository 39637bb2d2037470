"""The fake Stripe itself (support/fake_stripe.py): the wire protocol payment-service is tested
against must be Stripe's, so it is pinned here. No Emporium service is needed."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from support.fake_stripe import FakeStripe, parse_form, sign, signature_header, verify_signature_header

KEY = "sk_test_emporium_fake"
SECRET = "whsec_test_fake_secret"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def pi_form(pm: str = "pm_card_visa", amount: int = 2000, order: str = "o1", **extra) -> dict:
    """What payment-service sends (API.md payment section)."""
    fields = {"amount": str(amount), "currency": "usd", "payment_method": pm, "confirm": "true",
              "metadata[orderId]": order, "automatic_payment_methods[enabled]": "true",
              "automatic_payment_methods[allow_redirects]": "never"}
    fields.update(extra)
    return fields


class Api:
    def __init__(self, fake: FakeStripe, key: str = KEY):
        self.fake = fake
        self.s = requests.Session()
        self.s.headers.update({"Authorization": f"Bearer {key}", "Stripe-Version": "2024-06-20"})

    def post(self, path: str, data, key: str | None = None, **headers) -> requests.Response:
        if key:
            headers["Idempotency-Key"] = key
        return self.s.post(self.fake.url + path, data=data, headers=headers, timeout=5)

    def get(self, path: str, **kw) -> requests.Response:
        return self.s.get(self.fake.url + path, timeout=5, **kw)

    def pay(self, pm: str = "pm_card_visa", key: str | None = None, **kw) -> requests.Response:
        return self.post("/v1/payment_intents", pi_form(pm, **kw), key=key)


@pytest.fixture
def fake():
    with FakeStripe(KEY, webhook_secret=SECRET) as f:
        yield f


@pytest.fixture
def api(fake):
    with requests.Session():
        yield Api(fake)


class Receiver:
    """A webhook endpoint: records each POST (headers, raw body) and answers `status`."""

    def __init__(self, status: int = 200):
        self.status = status
        self.got: list[tuple[dict, bytes]] = []
        self.lock = threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with outer.lock:
                    outer.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/payments/webhook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def wait(self, n: int, timeout: float = 3.0) -> list[tuple[dict, bytes]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.got) >= n:
                    return list(self.got)
            time.sleep(0.01)
        with self.lock:
            return list(self.got)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


# --- wire basics --------------------------------------------------------------------------------

def test_form_bodies_decode_with_stripes_nesting():
    # What core's form_encode writes (core/tests/external_client_test.cpp), and what requests writes.
    assert parse_form("a[b][c]=x&amount=2000&capture=true&currency=usd&items[0][price]=price_1&items[0][quantity]=2"
                      "&items[1][price]=price_2&items[1][quantity]=1&metadata[note]=a%20b%26c%3Dd"
                      "&metadata[orderId]=abc&payment_method_types[0]=card") == {
        "a": {"b": {"c": "x"}}, "amount": "2000", "capture": "true", "currency": "usd",
        "items": [{"price": "price_1", "quantity": "2"}, {"price": "price_2", "quantity": "1"}],
        "metadata": {"note": "a b&c=d", "orderId": "abc"}, "payment_method_types": ["card"]}
    assert parse_form("metadata%5BorderId%5D=o+1&expand[]=latest_charge&expand[]=customer&metadata[my%20key%5B1%5D]=v") == {
        "metadata": {"orderId": "o 1", "my key[1]": "v"}, "expand": ["latest_charge", "customer"]}
    assert parse_form("") == {}


def test_secret_key_is_required_and_headers_are_recorded(fake, api):
    bare = requests.post(fake.url + "/v1/payment_intents", data=pi_form(), timeout=5)
    assert bare.status_code == 401
    assert bare.headers["WWW-Authenticate"] == 'Basic realm="Stripe"'
    err = bare.json()["error"]
    assert err["type"] == "invalid_request_error" and "API key" in err["message"]
    for auth in ("Bearer sk_test_wrong", f"Basic {KEY}", KEY):
        r = requests.post(fake.url + "/v1/payment_intents", data=pi_form(), headers={"Authorization": auth}, timeout=5)
        assert r.status_code == 401, auth
        assert r.json()["error"]["type"] == "invalid_request_error"
    assert fake.payment_intents_created == 0

    assert api.pay(key="order-1:attempt-1").status_code == 200
    last = fake.request_log(method="POST", path="/v1/payment_intents")[-1]
    assert last["stripe_version"] == "2024-06-20" and last["idempotency_key"] == "order-1:attempt-1"
    assert last["headers"]["authorization"] == f"Bearer {KEY}"
    assert last["params"]["metadata"] == {"orderId": "o1"} and last["status"] == 200
    assert [r["status"] for r in fake.request_log()] == [401, 401, 401, 401, 200]

    bad_version = api.post("/v1/payment_intents", pi_form(), **{"Stripe-Version": "latest"})
    assert bad_version.status_code == 400


def test_requests_stripe_rejects(fake, api):
    def error(resp, status):
        assert resp.status_code == status, resp.text
        return resp.json()["error"]

    assert error(api.pay("pm_card_nope"), 400)["code"] == "resource_missing"
    assert error(api.post("/v1/payment_intents", {**pi_form(), "metadata.orderId": "x"}), 400)["code"] == \
        "parameter_unknown"
    assert error(api.post("/v1/payment_intents", {**pi_form(), "amount": "20.5"}), 400)["code"] == \
        "parameter_invalid_integer"
    missing = error(api.post("/v1/payment_intents", {k: v for k, v in pi_form().items() if k != "amount"}), 400)
    assert (missing["code"], missing["param"]) == ("parameter_missing", "amount")
    assert error(api.pay(amount=49), 400)["code"] == "amount_too_small"
    as_json = api.s.post(fake.url + "/v1/payment_intents", json={"amount": 2000, "currency": "usd"}, timeout=5)
    assert error(as_json, 400)["type"] == "invalid_request_error"
    redirects = {k: v for k, v in pi_form().items() if k != "automatic_payment_methods[allow_redirects]"}
    assert "return_url" in error(api.post("/v1/payment_intents", redirects), 400)["message"]
    assert error(api.get("/v1/payment_intents/pi_missing"), 404)["code"] == "resource_missing"
    assert error(api.get("/v1/customers"), 404)["type"] == "invalid_request_error"
    assert fake.charges == 0


# --- PaymentIntents -----------------------------------------------------------------------------

def test_a_test_card_that_succeeds_charges_once(fake, api):
    r = api.pay("pm_card_visa", amount=2599, order="order-a")
    assert r.status_code == 200
    pi = r.json()
    assert pi["id"].startswith("pi_") and pi["object"] == "payment_intent"
    assert (pi["amount"], pi["amount_received"], pi["currency"], pi["status"]) == (2599, 2599, "usd", "succeeded")
    assert pi["client_secret"].startswith(pi["id"] + "_secret_")
    assert pi["metadata"] == {"orderId": "order-a"} and pi["latest_charge"].startswith("ch_")
    assert pi["last_payment_error"] is None and pi["next_action"] is None and pi["livemode"] is False
    assert isinstance(pi["created"], int)
    assert api.get(f"/v1/payment_intents/{pi['id']}").json() == pi

    charge = api.get(f"/v1/charges/{pi['latest_charge']}").json()
    assert (charge["status"], charge["paid"], charge["amount"], charge["payment_intent"]) == \
        ("succeeded", True, 2599, pi["id"])
    expanded = api.get(f"/v1/payment_intents/{pi['id']}", params={"expand[]": "latest_charge"}).json()
    assert expanded["latest_charge"]["id"] == pi["latest_charge"]

    assert api.pay("pm_card_mastercard", order="order-b").json()["status"] == "succeeded"
    assert (fake.payment_intents_created, fake.charges, fake.failed_charges) == (2, 2, 0)
    assert fake.succeeded_charges_by("orderId") == {"order-a": 1, "order-b": 1}
    assert [e["type"] for e in fake.events()] == ["payment_intent.succeeded"] * 2
    event = fake.events()[0]
    assert event["data"]["object"] == pi
    search = api.get("/v1/payment_intents/search", params={"query": "metadata['orderId']:'order-a'"}).json()
    assert [p["id"] for p in search["data"]] == [pi["id"]]


@pytest.mark.parametrize("pm, code, decline_code", [
    ("pm_card_chargeDeclined", "card_declined", "generic_decline"),
    ("pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
    ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card"),
])
def test_a_declined_test_card_is_a_402_card_error(fake, api, pm, code, decline_code):
    r = api.pay(pm, order="order-d")
    assert r.status_code == 402
    err = r.json()["error"]
    assert (err["type"], err["code"], err["decline_code"]) == ("card_error", code, decline_code)
    assert err["message"] and err["charge"].startswith("ch_")
    pi = err["payment_intent"]
    assert pi["status"] == "requires_payment_method" and pi["amount_received"] == 0
    assert pi["last_payment_error"]["decline_code"] == decline_code
    assert pi["metadata"] == {"orderId": "order-d"}
    assert api.get(f"/v1/payment_intents/{pi['id']}").json()["status"] == "requires_payment_method"
    assert (fake.payment_intents_created, fake.charges, fake.failed_charges) == (1, 0, 1)
    [event] = fake.events()
    assert event["type"] == "payment_intent.payment_failed" and event["data"]["object"]["id"] == pi["id"]

    retry = api.post(f"/v1/payment_intents/{pi['id']}/confirm", {"payment_method": "pm_card_visa"})
    assert retry.json()["status"] == "succeeded" and fake.charges == 1


def test_authentication_required_needs_action_then_completes(fake, api):
    r = api.pay("pm_card_authenticationRequired", order="order-3ds")
    assert r.status_code == 200
    pi = r.json()
    assert pi["status"] == "requires_action" and pi["next_action"]["type"] == "use_stripe_sdk"
    assert pi["client_secret"].startswith(pi["id"] + "_secret_") and pi["latest_charge"] is None
    assert (fake.charges, fake.events()) == (0, [])

    done = fake.complete_action(pi["id"])
    assert done["status"] == "succeeded" and fake.charges == 1
    assert [e["type"] for e in fake.events()] == ["payment_intent.succeeded"]

    off = api.pay("pm_card_authenticationRequired", off_session="true")
    assert off.status_code == 402 and off.json()["error"]["code"] == "authentication_required"
    failed = fake.complete_action(api.pay("pm_card_authenticationRequired").json()["id"], succeed=False)
    assert failed["status"] == "requires_payment_method"
    assert fake.charges == 1


def test_confirm_later_and_cancel(fake, api):
    created = api.post("/v1/payment_intents", {"amount": "1000", "currency": "usd"}).json()
    assert created["status"] == "requires_payment_method"
    cancelled = api.post(f"/v1/payment_intents/{created['id']}/cancel", {"cancellation_reason": "abandoned"}).json()
    assert cancelled["status"] == "canceled"
    again = api.post(f"/v1/payment_intents/{created['id']}/confirm", {"payment_method": "pm_card_visa"})
    assert again.status_code == 400 and again.json()["error"]["code"] == "payment_intent_unexpected_state"
    assert fake.charges == 0


# --- idempotency --------------------------------------------------------------------------------

def test_a_repeated_key_replays_the_first_answer_and_other_parameters_are_an_error(fake, api):
    first = api.pay(key="k-1", order="order-i")
    again = api.pay(key="k-1", order="order-i")
    assert again.status_code == 200 and again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert (fake.payment_intents_created, fake.charges, len(fake.events())) == (1, 1, 1)

    other = api.pay(key="k-1", order="order-i", amount=2001)
    assert other.status_code == 400
    assert other.json()["error"]["type"] == "idempotency_error"
    assert api.post("/v1/refunds", {"payment_intent": first.json()["id"]}, key="k-1").status_code == 400

    # Scoped per API key: another account's same key is a new request.
    fake.add_api_key("sk_test_other_account")
    assert Api(fake, "sk_test_other_account").pay(key="k-1", order="order-i").content != first.content
    assert fake.charges == 2

    # A decline is saved and replayed; a validation error is not saved.
    d1 = api.pay("pm_card_chargeDeclined", key="k-2")
    d2 = api.pay("pm_card_chargeDeclined", key="k-2")
    assert d1.status_code == d2.status_code == 402 and d1.content == d2.content
    assert api.pay("pm_card_visa", key="k-3", amount=10).status_code == 400
    assert api.pay("pm_card_visa", key="k-3", amount=2000).status_code == 200


def test_a_key_whose_first_request_is_running_is_409_then_replays():
    with FakeStripe(KEY) as fake:
        api = Api(fake)
        fake.delay(0.5, n=1, path="/v1/payment_intents")
        with ThreadPoolExecutor(2) as pool:
            slow = pool.submit(api.pay, key="k-run")
            deadline = time.monotonic() + 5
            while (KEY, "k-run") not in fake._idem and time.monotonic() < deadline:  # the first holds the key
                time.sleep(0.005)
            dup = api.pay(key="k-run")
            assert dup.status_code == 409 and dup.json()["error"]["code"] == "idempotency_key_in_use"
            assert slow.result().status_code == 200
        assert api.pay(key="k-run").content == slow.result().content
        assert fake.charges == 1

    with FakeStripe(KEY, idempotency_in_progress="wait") as fake:
        api = Api(fake)
        fake.delay(0.3, n=1, path="/v1/payment_intents")
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: api.pay(key="k-wait"), range(4)))
        assert {a.status_code for a in answers} == {200} and len({a.content for a in answers}) == 1
        assert fake.charges == 1


# --- refunds ------------------------------------------------------------------------------------

def test_refunds_add_up_to_the_charge_and_never_more(fake, api):
    pi = api.pay(amount=2000, order="order-r").json()
    r1 = api.post("/v1/refunds", {"payment_intent": pi["id"], "amount": "500", "metadata[paymentId]": "p1"},
                  key="refund-1")
    assert r1.status_code == 200
    refund = r1.json()
    assert refund["id"].startswith("re_") and refund["object"] == "refund"
    assert (refund["amount"], refund["payment_intent"], refund["status"], refund["charge"]) == \
        (500, pi["id"], "succeeded", pi["latest_charge"])
    assert api.post("/v1/refunds", {"payment_intent": pi["id"], "amount": "500", "metadata[paymentId]": "p1"},
                    key="refund-1").content == r1.content

    too_much = api.post("/v1/refunds", {"payment_intent": pi["id"], "amount": "1501"})
    assert too_much.status_code == 400 and too_much.json()["error"]["code"] == "amount_too_large"
    rest = api.post("/v1/refunds", {"payment_intent": pi["id"]}).json()
    assert rest["amount"] == 1500
    done = api.post("/v1/refunds", {"payment_intent": pi["id"], "amount": "1"})
    assert done.status_code == 400 and done.json()["error"]["code"] == "charge_already_refunded"
    assert (fake.refunds, fake.refunded_amount(pi["id"])) == (2, 2000)

    refunded = fake.events("charge.refunded")
    assert [e["data"]["object"]["amount_refunded"] for e in refunded] == [500, 2000]
    assert refunded[-1]["data"]["object"]["refunded"] is True
    assert refunded[-1]["data"]["previous_attributes"] == {"amount_refunded": 500, "refunded": False}

    declined = api.pay("pm_card_chargeDeclined").json()["error"]["payment_intent"]
    assert api.post("/v1/refunds", {"payment_intent": declined["id"]}).status_code == 400
    assert api.post("/v1/refunds", {"payment_intent": "pi_nope"}).json()["error"]["code"] == "resource_missing"


# --- webhooks -----------------------------------------------------------------------------------

def test_events_are_delivered_signed_as_stripe_signs_them(receiver):
    with FakeStripe(KEY, webhook_url=receiver.url, webhook_secret=SECRET) as fake:
        api = Api(fake)
        pi = api.pay(order="order-w").json()
        api.post("/v1/refunds", {"payment_intent": pi["id"], "amount": "100"})
        api.pay("pm_card_chargeDeclined")
        assert fake.wait_deliveries()
        got = receiver.wait(3)
    assert len(got) == 3
    types = set()
    for headers, body in got:
        assert headers["content-type"].startswith("application/json")
        header = headers["stripe-signature"]
        items = [p.split("=", 1) for p in header.split(",")]
        assert items[0][0] == "t" and abs(int(items[0][1]) - time.time()) < 10
        v1 = [v for k, v in items if k == "v1"]
        t = int(items[0][1])
        # Independently of the helper: hex HMAC-SHA256 over "<t>.<raw body>".
        assert hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest() in v1
        assert sign(body, SECRET, t) in v1 and verify_signature_header(body, header, SECRET)
        event = json.loads(body)
        assert event["id"].startswith("evt_") and event["object"] == "event" and event["livemode"] is False
        assert event["api_version"] == "2024-06-20" and isinstance(event["created"], int)
        types.add(event["type"])
    assert types == {"payment_intent.succeeded", "charge.refunded", "payment_intent.payment_failed"}
    by_type = {e["type"]: e for e in fake.events()}
    assert by_type["payment_intent.succeeded"]["data"]["object"]["id"] == pi["id"]
    assert by_type["charge.refunded"]["data"]["object"]["object"] == "charge"
    assert [d["status"] for d in fake.deliveries()] == [200, 200, 200]


def test_deliver_can_tamper_age_resign_and_never_raises(fake, api, receiver):
    api.pay()
    fake.set_webhook(receiver.url, auto_deliver=False)
    [event] = fake.events("payment_intent.succeeded")
    old = int(time.time()) - 400
    assert fake.deliver(event, times=2) == [200, 200]
    assert fake.deliver(event, tamper=True) == [200]
    assert fake.deliver(event, timestamp=old) == [200]
    assert fake.deliver(event, secret="whsec_wrong") == [200]
    assert fake.deliver(event["id"], extra_signatures=["0" * 64]) == [200]
    got = receiver.wait(6)
    verdicts = [verify_signature_header(body, h["stripe-signature"], SECRET) for h, body in got]
    assert verdicts == [True, True, False, False, False, True]
    assert got[1][1] != got[2][1] and len(got[1][1]) == len(got[2][1])
    assert sum(a != b for a, b in zip(got[1][1], got[2][1])) == 1
    json.loads(got[2][1])  # still JSON: only the signature can tell
    assert got[3][0]["stripe-signature"].startswith(f"t={old},")
    assert got[5][0]["stripe-signature"].split(",")[1] == "v1=" + "0" * 64
    assert signature_header(b"x", SECRET, 7, extra_secrets=["whsec_b"]) == \
        f"t=7,v1={sign(b'x', SECRET, 7)},v1={sign(b'x', 'whsec_b', 7)}"

    receiver.status = 500
    assert fake.deliver(event) == [500]
    assert fake.deliver(event, url="http://127.0.0.1:9/nothing") == [0]
    assert fake.deliveries()[-1]["error"]


def test_deliver_all_shuffled_sends_each_event_n_times_concurrently(fake, api, receiver):
    fake.set_webhook(receiver.url, auto_deliver=False)
    for i in range(4):
        api.pay(order=f"order-{i}")
    statuses = fake.deliver_all_shuffled(times=3, threads=6)
    assert statuses == [200] * 12
    ids = [json.loads(body)["id"] for _, body in receiver.wait(12)]
    assert sorted(ids) == sorted([e["id"] for e in fake.events()] * 3)


# --- faults and counters ------------------------------------------------------------------------

def test_faults_503_drop_before_and_drop_after_charge(fake, api):
    fake.fail_next(2, "503", path="/v1/payment_intents")
    for _ in range(2):
        r = api.pay(key="f-1")
        assert r.status_code == 503 and r.json()["error"]["type"] == "api_error"
    assert fake.payment_intents_created == 0
    assert api.pay(key="f-1").status_code == 200  # a 503 before the work saves nothing for the key

    fake.fail_next(1, "drop_before")
    with pytest.raises(requests.ConnectionError):
        api.pay(key="f-2", order="order-f2")
    assert (fake.payment_intents_created, fake.charges) == (1, 1)

    fake.fail_next(1, "drop_after_charge")
    with pytest.raises(requests.ConnectionError):
        api.pay(key="f-3", order="order-f3")
    assert (fake.payment_intents_created, fake.charges) == (2, 2)
    retry = api.pay(key="f-3", order="order-f3")  # the client retries with the same key
    assert retry.status_code == 200 and retry.headers["Idempotent-Replayed"] == "true"
    assert (fake.payment_intents_created, fake.charges) == (2, 2)
    assert [r["fault"] for r in fake.request_log() if r["fault"]] == ["503", "503", "drop_before", "drop_after_charge"]

    fake.fail_next(None, "503", method="POST", path="/v1/refunds")  # refunds down until cleared
    assert api.get(f"/v1/payment_intents/{retry.json()['id']}").status_code == 200
    assert api.post("/v1/refunds", {"payment_intent": retry.json()["id"]}).status_code == 503
    assert api.post("/v1/refunds", {"payment_intent": retry.json()["id"]}).status_code == 503
    fake.clear_faults()
    assert api.post("/v1/refunds", {"payment_intent": retry.json()["id"]}).status_code == 200

    fake.delay(0.2, n=1)
    t0 = time.monotonic()
    api.get(f"/v1/payment_intents/{retry.json()['id']}")
    assert time.monotonic() - t0 >= 0.2

    url = fake.url
    fake.stop()  # Stripe unreachable: connection refused
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/v1/charges/ch_x", timeout=2)
    fake.start()
    assert fake.url == url and api.pay(key="f-3", order="order-f3").content == retry.content


def test_all_events_adds_stripes_other_event_types():
    with FakeStripe(KEY, all_events=True) as fake:
        api = Api(fake)
        pi = api.pay().json()
        api.post("/v1/refunds", {"payment_intent": pi["id"], "amount": "1"})
        api.pay("pm_card_chargeDeclined")
        api.pay("pm_card_authenticationRequired")
        assert [e["type"] for e in fake.events()] == [
            "payment_intent.created", "charge.succeeded", "payment_intent.succeeded",
            "refund.created", "charge.refunded",
            "payment_intent.created", "charge.failed", "payment_intent.payment_failed",
            "payment_intent.created", "payment_intent.requires_action"]
        custom = fake.record_event("payment_intent.succeeded", pi)
        assert fake.events("payment_intent.succeeded")[-1] == custom and custom["request"]["id"] is None


def test_counters_under_concurrency(fake, api):
    def one(i):
        return Api(fake).pay("pm_card_chargeDeclined" if i % 5 == 0 else "pm_card_visa", order=f"o{i % 10}",
                             key=f"c-{i % 20}").status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(one, range(40)))  # each of 20 keys sent twice, some at once
    assert codes.count(200) + codes.count(402) + codes.count(409) == 40
    assert fake.payment_intents_created == 20
    assert (fake.charges, fake.failed_charges) == (16, 4)
    assert sum(fake.succeeded_charges_by().values()) == 16
    assert len(fake.request_log(method="POST")) == 40
