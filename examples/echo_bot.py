#!/usr/bin/env python3
"""A minimal Instaply bot for the gateway's worked example: it receives the
`messages` webhook and answers each customer message through the Bot API.

    python3 examples/echo_bot.py            # listens on 127.0.0.1:9000
    GATEWAY=http://127.0.0.1:8080 TOKEN=acme-bot-token-0001 PORT=9000 python3 examples/echo_bot.py
"""
import json
import os
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GATEWAY = os.environ.get("GATEWAY", "http://127.0.0.1:8080")
TOKEN = os.environ.get("TOKEN", "acme-bot-token-0001")
PORT = int(os.environ.get("PORT", "9000"))


def reply(thread_id, text):
    body = json.dumps({"text": text, "customerThreadId": str(thread_id)}).encode()
    request = urllib.request.Request(
        f"{GATEWAY}/api/send-message-to-customer-thread",
        data=body,
        headers={"token": TOKEN, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        print("replied:", answer.read().decode(), flush=True)


class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        event = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        # Acknowledge first: the gateway retries anything but a 2xx.
        self.send_response(200)
        self.end_headers()
        data = event.get("data", {})
        print("event:", event.get("eventType"), json.dumps(data), flush=True)
        if event.get("eventType") == "message" and data.get("fromCustomer"):
            reply(data["customerThreadId"], f"You said: {data['messageBody']}")

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Hook).serve_forever()
