"""A tiny protected service for forward-auth tests: answers every request with
200 and a JSON echo of what it received (method, path, headers), so a test can
see exactly which identity headers the reverse proxy passed on.

Run standalone with `python upstream.py PORT`, or start in-process with
`Upstream()` (a daemon thread on 127.0.0.1, port chosen by the OS)."""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class EchoHandler(BaseHTTPRequestHandler):
    def _echo(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                # Lower-cased names; repeated headers joined as a list.
                "headers": {k.lower(): self.headers.get_all(k) for k in set(self.headers.keys())},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _echo

    def log_message(self, *args):  # keep test output quiet
        pass

class Upstream:
    def __init__(self, port: int = 0):
        self.server = ThreadingHTTPServer(("127.0.0.1", port), EchoHandler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

def seen_headers(response) -> dict:
    """The headers the upstream received, as {lower-case name: first value}."""
    return {k: v[0] for k, v in response.json()["headers"].items()}

if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), EchoHandler).serve_forever()
