"""A multi-tenant notes app for tenement: one process and one SQLite file per tenant.

Each tenant is an instance of the `notes` service: acme.notes.localhost is instance notes:acme,
whose process keeps its notes in $DATA_DIR/notes.db ({data_dir}/notes/acme/notes.db). Tenants
share no process, no file and no connection. Standard library only (http.server, sqlite3).

  GET    /health        200 "ok"
  GET    /              the tenant and how many notes it has
  GET    /notes         every note, oldest first
  POST   /notes         a new note: the request body (UTF-8 text, at most 64 KiB) -> 201
  GET    /notes/ID      one note          DELETE /notes/ID   remove it (204)
"""
import json
import os
import signal
import sqlite3
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("PORT", "3000"))
DATA_DIR = os.environ.get("DATA_DIR", ".")
# the instance id is the tenant: DATA_DIR is {data_dir}/{service}/{id}
TENANT = os.environ.get("TENANT") or os.path.basename(DATA_DIR.rstrip("/")) or "default"
MAX_BODY = 64 * 1024

db = sqlite3.connect(os.path.join(DATA_DIR, "notes.db"), check_same_thread=False)
db.execute("PRAGMA journal_mode=WAL")  # readers do not wait for a writer
db.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL, created TEXT NOT NULL)")
db.commit()
lock = threading.Lock()  # one connection, shared by the server's threads one at a time


def note(row):
    return {"id": row[0], "text": row[1], "created": row[2]}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def send(self, status, value=None):
        body = b"" if value is None else (value if isinstance(value, bytes) else (json.dumps(value) + "\n").encode())
        self.send_response(status)
        if value is not None:
            self.send_header("content-type", "text/plain" if isinstance(value, bytes) else "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def note_id(self):
        tail = self.path[len("/notes/"):] if self.path.startswith("/notes/") else ""
        return int(tail) if tail.isdigit() else None

    def do_GET(self):
        if self.path == "/health":
            return self.send(200, b"ok\n")
        with lock:
            if self.path == "/":
                (count,) = db.execute("SELECT count(*) FROM notes").fetchone()
                return self.send(200, {"tenant": TENANT, "notes": count})
            if self.path == "/notes":
                return self.send(200, [note(r) for r in db.execute("SELECT id, text, created FROM notes ORDER BY id")])
            nid = self.note_id()
            row = db.execute("SELECT id, text, created FROM notes WHERE id = ?", (nid,)).fetchone() if nid else None
        return self.send(200, note(row)) if row else self.send(404, {"error": "no such note"})

    def do_POST(self):
        if self.path != "/notes":
            return self.send(404, {"error": "POST /notes"})
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            return self.send(413, {"error": "a note is at most %d bytes" % MAX_BODY})
        text = self.rfile.read(length).decode("utf-8", "replace").strip()
        if not text:
            return self.send(400, {"error": "send the note's text as the request body"})
        with lock:
            cur = db.execute("INSERT INTO notes (text, created) VALUES (?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))", (text,))
            db.commit()
            row = db.execute("SELECT id, text, created FROM notes WHERE id = ?", (cur.lastrowid,)).fetchone()
        self.send(201, note(row))

    def do_DELETE(self):
        nid = self.note_id()
        with lock:
            gone = db.execute("DELETE FROM notes WHERE id = ?", (nid,)).rowcount if nid else 0
            db.commit()
        return self.send(204) if gone else self.send(404, {"error": "no such note"})

    def log_message(self, fmt, *args):
        sys.stdout.write("%s\n" % (fmt % args))
        sys.stdout.flush()


server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("notes for %s listening on 127.0.0.1:%d, data in %s" % (TENANT, PORT, os.path.join(DATA_DIR, "notes.db")), flush=True)
server.serve_forever()
