"""Webhook deliveries while `make compose-check` kills one replica of each service: a
receiver on this machine (reached from the containers through the compose network's gateway
address), a user's webhook pointing at it, and a test delivery asked for every second through
the kills. Afterwards every delivery the log lists must be delivered and must have reached the
receiver; a delivery may arrive twice (a replica killed between sending it and recording it),
always with the same Webhook-Id, and every arrival must carry a valid signature."""

import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook as Verifier

PASSWORD = "a long compose-check passphrase"


class _Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        self.arrivals: list[tuple[dict[str, str], bytes]] = []
        super().__init__(("0.0.0.0", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.arrivals.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        return None


class WebhooksUnderKills:
    def __init__(self, gateway_url: str, host_address: str) -> None:
        self.api = httpx.Client(base_url=f"{gateway_url}/api/v1", timeout=30)
        self.receiver = _Receiver()
        self.host_address = host_address
        self.hook: dict[str, Any] = {}
        self.headers: dict[str, str] = {}
        self.asked = 0
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self.receiver.serve_forever, daemon=True),
            threading.Thread(target=self._ask, daemon=True),
        ]

    def start(self) -> None:
        self._threads[0].start()
        email = f"hooked-{uuid.uuid4().hex[:10]}@example.com"
        self.api.post("/auth/register", json={"email": email, "password": PASSWORD})
        token = self.api.post("/auth/login", json={"email": email, "password": PASSWORD})
        self.headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        port = self.receiver.server_address[1]
        made = self.api.post(
            "/me/webhooks",
            json={
                "url": f"http://{self.host_address}:{port}/hook",
                "events": ["notification.created"],
            },
            headers=self.headers,
        )
        made.raise_for_status()
        self.hook = made.json()
        self._threads[1].start()

    def _ask(self) -> None:
        while not self._stop.wait(1.0):
            try:
                answer = self.api.post(f"/me/webhooks/{self.hook['id']}/test", headers=self.headers)
            except httpx.HTTPError:
                continue
            if answer.status_code == 202:
                self.asked += 1

    def finish(self, gateway_url: str, timeout_s: float = 180) -> dict[str, Any]:
        """The figures once every delivery has settled; `gateway_url` a gateway replica that
        answers now (the one used before may have been killed and moved)."""
        self._stop.set()
        self._threads[1].join(10)
        self.api = httpx.Client(base_url=f"{gateway_url}/api/v1", timeout=30)
        deadline = time.monotonic() + timeout_s
        log: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            log = self._log()
            if log and all(d["status"] != "pending" for d in log):
                break
            time.sleep(2)
        self.receiver.shutdown()
        verifier = Verifier(self.hook["secret"])
        arrived: dict[str, int] = {}
        bad_signatures = 0
        for headers, body in self.receiver.arrivals:
            try:
                verifier.verify(body, headers)
            except Exception:
                bad_signatures += 1
                continue
            arrived[headers["Webhook-Id"]] = arrived.get(headers["Webhook-Id"], 0) + 1
        listed = {d["id"] for d in log}
        return {
            "deliveries asked for": self.asked,
            "in the delivery log": len(listed),
            "delivered": sum(d["status"] == "delivered" for d in log),
            "not delivered": sum(d["status"] != "delivered" for d in log),
            "logged but never arrived": len(listed - set(arrived)),
            "arrived more than once (same Webhook-Id)": sum(n > 1 for n in arrived.values()),
            "bad signatures": bad_signatures,
        }

    def _log(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for page in range(1, 50):
            answer = self.api.get(
                f"/me/webhooks/{self.hook['id']}/deliveries",
                params={"page": page, "limit": 100},
                headers=self.headers,
            )
            if answer.status_code != 200:
                return []
            results = answer.json()["results"]
            found += results
            if len(results) < 100:
                break
        return found


def webhook_problems(figures: dict[str, Any]) -> list[str]:
    found = []
    if figures["in the delivery log"] < max(figures["deliveries asked for"], 1):
        found.append(f"webhook deliveries lost: {figures}")
    for what in ("not delivered", "logged but never arrived", "bad signatures"):
        if figures[what]:
            found.append(f"webhook deliveries {what}: {figures[what]}")
    return found
