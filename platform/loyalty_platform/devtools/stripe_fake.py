"""A small Stripe-compatible HTTP server for tests and the demo.

It speaks the parts of Stripe's API the platform uses (accounts, account links,
transfers, customers, invoice items, invoices and their finalisation, payment
intents, events) well enough for the official SDK pointed at it through
``base_addresses``. Like Stripe it requires a secret key, honours
``Idempotency-Key`` (same key and parameters: the same response; other
parameters: an ``idempotency_error``), records every request so tests can count
what really happened, and can deliver its events as signed webhooks. Tests make
it refuse chosen requests (``FakeState.refuse``) the way Stripe refuses them: an
error with a code, kept under the request's idempotency key like any answer.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

RESOURCES = {
    "accounts": ("acct", "account"),
    "account_links": ("al", "account_link"),
    "transfers": ("tr", "transfer"),
    "customers": ("cus", "customer"),
    "invoiceitems": ("ii", "invoiceitem"),
    "invoices": ("in", "invoice"),
    "payment_intents": ("pi", "payment_intent"),
}
CREATED_EVENTS = {
    "accounts": "account.updated",
    "transfers": "transfer.created",
    "customers": "customer.created",
    "invoices": "invoice.created",
    "payment_intents": "payment_intent.created",
}


def unflatten(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (``metadata[statement]=4``, ``items[0][x]=1``) to a dict."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        target = result
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return result


def signature_header(payload: str, secret: str, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


@dataclass
class Refusal:
    """Refuse POSTs to ``path`` whose parameters include ``when``."""

    path: str
    when: dict[str, str]
    code: str
    message: str
    status: int = 400
    kind: str = "invalid_request_error"

    def matches(self, path: str, params: dict[str, Any]) -> bool:
        return path == self.path and all(params.get(k) == v for k, v in self.when.items())

    def answer(self) -> tuple[int, dict[str, Any]]:
        error = {"type": self.kind, "code": self.code, "message": self.message}
        return self.status, {"error": error}


@dataclass
class FakeState:
    objects: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    idempotency: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    lock: threading.Lock = field(default_factory=threading.Lock)
    refusals: list[Refusal] = field(default_factory=list)

    def refuse(
        self,
        path: str,
        *,
        code: str,
        message: str,
        status: int = 400,
        **when: str,
    ) -> Refusal:
        """From now on, answer POSTs to ``path`` with these parameters by an error,
        e.g. ``refuse("/v1/transfers", code="balance_insufficient", message="...",
        destination="acct_1")``."""
        refusal = Refusal(path, dict(when), code, message, status)
        with self.lock:
            self.refusals.append(refusal)
        return refusal

    def stop_refusing(self) -> None:
        with self.lock:
            self.refusals.clear()

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self.counter):08d}"

    def count(self, method: str, path: str) -> int:
        """How many requests reached the server for ``method path`` (retries included)."""
        return sum(1 for m, p, _ in self.requests if m == method and p == path)

    def created(self, resource: str) -> list[dict[str, Any]]:
        return list(self.objects.get(resource, {}).values())

    def add_event(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        event = {
            "id": self.new_id("evt"),
            "object": "event",
            "type": kind,
            "api_version": "2026-10-28.endive",
            "created": int(time.time()),
            "data": {"object": obj},
            "livemode": False,
        }
        self.events.append(event)
        return event


class FakeStripeHandler(BaseHTTPRequestHandler):
    server: FakeStripeServer

    def log_message(self, format: str, *args: Any) -> None:  # silence the default log
        return

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_fake{time.monotonic_ns()}")
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, kind: str, message: str) -> None:
        self._reply(status, {"error": {"type": kind, "message": message}})

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Bearer sk_") and not header.startswith("Bearer rk_"):
            self._error(401, "invalid_request_error", "Invalid API Key provided.")
            return False
        return True

    def do_GET(self) -> None:
        state = self.server.state
        path = urlsplit(self.path).path
        with state.lock:
            state.requests.append(("GET", path, None))
        if not self._authorised():
            return
        parts = path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "v1" and parts[1] == "events":
            self._reply(
                200,
                {
                    "object": "list",
                    "url": path,
                    "has_more": False,
                    "data": list(reversed(state.events)),
                },
            )
            return
        if len(parts) >= 2 and parts[0] == "v1" and parts[1] in RESOURCES:
            objects = state.objects.get(parts[1], {})
            if len(parts) == 2:
                self._reply(
                    200,
                    {
                        "object": "list",
                        "url": path,
                        "has_more": False,
                        "data": list(objects.values()),
                    },
                )
                return
            if parts[2] in objects:
                self._reply(200, objects[parts[2]])
                return
        self._error(404, "invalid_request_error", f"No such resource: {path}")

    def do_POST(self) -> None:
        state = self.server.state
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(length).decode() if length else ""
        key = self.headers.get("Idempotency-Key")
        with state.lock:
            state.requests.append(("POST", path, key))
        if not self._authorised():
            return
        params = unflatten(parse_qsl(body, keep_blank_values=True))
        fingerprint = hashlib.sha256(f"{path}?{body}".encode()).hexdigest()
        with state.lock:
            if key and key in state.idempotency:
                seen, status, response = state.idempotency[key]
                if seen != fingerprint:
                    self._error(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with.",
                    )
                    return
                self._reply(status, response)
                return
            refusal = next((r for r in state.refusals if r.matches(path, params)), None)
            status, response = refusal.answer() if refusal else self._create(path, params)
            if key:
                state.idempotency[key] = (fingerprint, status, response)
        self._reply(status, response)

    def _create(self, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        state = self.server.state
        parts = path.strip("/").split("/")
        if len(parts) == 4 and parts[1] == "invoices" and parts[3] == "finalize":
            invoice = state.objects.get("invoices", {}).get(parts[2])
            if invoice is None:
                return 404, {
                    "error": {"type": "invalid_request_error", "message": "No such invoice"}
                }
            invoice["status"] = "open"
            state.add_event("invoice.finalized", dict(invoice))
            return 200, invoice
        if len(parts) != 2 or parts[1] not in RESOURCES:
            return 404, {"error": {"type": "invalid_request_error", "message": f"Unknown {path}"}}
        resource = parts[1]
        prefix, kind = RESOURCES[resource]
        obj: dict[str, Any] = {
            "id": state.new_id(prefix),
            "object": kind,
            "created": int(time.time()),
            "livemode": False,
            **params,
        }
        for number in ("amount", "days_until_due"):
            if number in obj:
                obj[number] = int(obj[number])
        obj.setdefault("metadata", {})
        if resource == "account_links":
            obj["url"] = f"http://stripe-fake.invalid/onboarding/{params.get('account')}"
            obj["expires_at"] = int(time.time()) + 300
        if resource == "invoices":
            # Like Stripe: the customer's pending invoice items join the new invoice
            # only when asked (``pending_invoice_items_behavior`` defaults to exclude).
            customer = params.get("customer")
            items = [
                i
                for i in state.objects.get("invoiceitems", {}).values()
                if i.get("customer") == customer and not i.get("invoice")
            ]
            if params.get("pending_invoice_items_behavior") != "include":
                items = []
            for item in items:
                item["invoice"] = obj["id"]
            obj.update(
                status="draft",
                amount_due=sum(int(i["amount"]) for i in items),
                currency=items[0]["currency"] if items else params.get("currency"),
            )
        if resource == "invoiceitems" and params.get("invoice"):
            # an item created on a draft invoice adds to what it asks for
            invoice = state.objects.get("invoices", {}).get(params["invoice"])
            if invoice is None or invoice.get("status") != "draft":
                return 400, {
                    "error": {
                        "type": "invalid_request_error",
                        "message": "Invoice items can only be added to draft invoices",
                    }
                }
            invoice["amount_due"] = int(invoice.get("amount_due") or 0) + int(obj["amount"])
            invoice["currency"] = invoice.get("currency") or obj.get("currency")
        if resource == "accounts":
            obj.update(charges_enabled=False, payouts_enabled=False, details_submitted=False)
        if resource == "transfers":
            obj.setdefault("reversed", False)
        state.objects.setdefault(resource, {})[obj["id"]] = obj
        if resource in CREATED_EVENTS:
            state.add_event(CREATED_EVENTS[resource], dict(obj))
        return 200, obj


class FakeStripeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), FakeStripeHandler)
        self.state = FakeState()
        self.thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeStripeServer:
        self.thread = threading.Thread(target=self.serve_forever, name="stripe-fake", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def add_event(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        with self.state.lock:
            return self.state.add_event(kind, obj)

    def deliver(
        self, event: dict[str, Any], url: str, secret: str, *, host: str | None = None
    ) -> int:
        """POST one event to a webhook endpoint, signed like Stripe; return the status."""
        payload = json.dumps(event)
        request = urllib.request.Request(  # noqa: S310 - loopback URL given by the caller
            url,
            data=payload.encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": signature_header(payload, secret),
                **({"Host": host} if host else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
