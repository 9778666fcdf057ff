"""Example app for tenement: a dependency-free Python HTTP server.

tenement passes PORT (and DATA_DIR) in the environment; /health answers 200.
"""
import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("PORT", "3000"))
# INSTANCE when the config sets it, else service:id from DATA_DIR ({data_dir}/{service}/{id})
_DATA = os.environ.get("DATA_DIR", "").rstrip("/")
NAME = os.environ.get("INSTANCE") or (
    "%s:%s" % (os.path.basename(os.path.dirname(_DATA)), os.path.basename(_DATA)) if _DATA else "python-app")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/health":
            body = b"ok\n"
            ctype = "text/plain"
        else:
            body = (json.dumps({
                "app": "python",
                "instance": NAME,
                "pid": os.getpid(),
                "method": self.command,
                "path": self.path,
                "forwardedFor": self.headers.get("x-forwarded-for"),
            }) + "\n").encode()
            ctype = "application/json"
        self.send_response(200)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stdout.write("%s\n" % (fmt % args))
        sys.stdout.flush()


server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print(f"{NAME} listening on 127.0.0.1:{PORT}", flush=True)
server.serve_forever()
