#!/usr/bin/env python3
"""A local receiver for delivery reports and webhooks: prints each POST's
body and answers 200. `python3 examples/report-sink.py [PORT]` (default 9000)."""
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        print(f"{self.path} {self.headers.get('Content-Type')}: {body.decode('utf-8', 'replace')}", flush=True)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
print(f"listening on http://127.0.0.1:{port}", flush=True)
HTTPServer(("127.0.0.1", port), Sink).serve_forever()
