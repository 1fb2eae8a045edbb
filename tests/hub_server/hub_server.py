#!/usr/bin/env python3
"""A fake Hugging Face Hub for tests: serves model folders under the hub's URL layout.

Standard library only. Listens on two ephemeral loopback ports: the "hub"
(`{endpoint}/{repo_id}/resolve/{revision}/{filename}`) and a "CDN" that serves large
(LFS) files by content hash, as huggingface.co does. Prints the endpoint URL
(`http://127.0.0.1:PORT`) as its first line on stdout, then serves until
--lifetime seconds or --max-requests requests have passed, whichever comes first.

What it mimics (huggingface_hub 2.4.0, file_download.py and utils/_http.py):
  * HEAD/GET of a small file: 200, `ETag: "<git blob sha1>"`, `X-Repo-Commit`,
    `Content-Length`, `Accept-Ranges: bytes`.
  * HEAD/GET of an LFS file (*.safetensors, *.bin, *.h5, *.onnx, or > 10 MB): 302 to the CDN
    port, carrying `X-Linked-Etag: "<sha256>"`, `X-Linked-Size` and `X-Repo-Commit`.
  * A missing file: 404 `X-Error-Code: EntryNotFound` with `X-Repo-Commit`; a missing
    revision: 404 `RevisionNotFound`; a missing repo, or a private one without the token:
    401 `RepoNotFound`.
  * `--alias old/name=org/name`: a renamed repo, 307 to the new name with a relative
    Location on the same host (huggingface_hub follows those on HEAD).
  * Range requests (206 with Content-Range, 416 when unsatisfiable).

Test controls, on the hub port, not counted in the log:
  GET /_control/log                            every request seen, as JSON
  GET /_control/reset                          clears the log
  GET /_control/repos                          {repo_id: {revision: commit}}
  GET /_control/truncate?match=S&after=N&times=K
      the next K GETs whose path contains S send the full headers, then only N bytes of the
      body, then close the connection.

Usage:
  hub_server.py --repo tiny-org/bert-tiny=DIR [--repo tiny-org/bert-tiny@v1=DIR2]
                [--private tiny-org/secret --token TOKEN] [--alias old/x=tiny-org/bert-tiny]
"""

import argparse
import hashlib
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

LFS_SUFFIXES = (".safetensors", ".bin", ".h5", ".onnx", ".msgpack", ".ot")
LFS_MIN_SIZE = 10 * 1024 * 1024
LOOPBACK = "127.0.0.1"


class FileEntry:
    def __init__(self, name, data):
        self.name = name
        self.data = data
        self.git_sha1 = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.lfs = name.endswith(LFS_SUFFIXES) or len(data) > LFS_MIN_SIZE
        # The hub's ETag for an LFS file is the sha1 of its git pointer file.
        pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\nsize {len(data)}\n"
        self.pointer_sha1 = hashlib.sha1(pointer.encode()).hexdigest()


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.repos = {}  # repo_id -> {revision: commit}
        self.commits = {}  # commit -> {filename: FileEntry}
        self.blobs = {}  # sha256 -> FileEntry (the CDN's content store)
        self.aliases = dict(spec.split("=", 1) for spec in args.alias)
        self.private = set(args.private)
        self.token = args.token
        self.log = []
        self.truncations = []  # [match, after, times]
        self.requests = 0
        self.max_requests = args.max_requests
        self.stop = threading.Event()
        for spec in args.repo:
            name, folder = spec.split("=", 1)
            repo_id, _, revision = name.partition("@")
            self.add_revision(repo_id, revision or "main", folder)

    def add_revision(self, repo_id, revision, folder):
        files = {}
        for root, _, names in os.walk(folder):
            for name in names:
                path = os.path.join(root, name)
                relative = os.path.relpath(path, folder).replace(os.sep, "/")
                with open(path, "rb") as f:
                    files[relative] = FileEntry(relative, f.read())
        digest = hashlib.sha1(f"{repo_id}@{revision}".encode())
        for name in sorted(files):
            digest.update(f"{name} {files[name].git_sha1}\n".encode())
        commit = digest.hexdigest()
        self.repos.setdefault(repo_id, {})[revision] = commit
        self.commits[commit] = files
        for entry in files.values():
            self.blobs[entry.sha256] = entry

    def count(self, entry):
        with self.lock:
            self.log.append(entry)
            self.requests += 1
            if self.requests >= self.max_requests:
                self.stop.set()

    def take_truncation(self, path):
        with self.lock:
            for rule in self.truncations:
                if rule[0] in path and rule[2] > 0:
                    rule[2] -= 1
                    return rule[1]
        return None


def parse_range(header, size):
    """Returns (start, end_inclusive) for a single `bytes=a-b` range, None if absent, or
    'invalid' if unsatisfiable."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return "invalid"
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            length = int(last)
            start, end = max(size - length, 0), size - 1
        else:
            start = int(first)
            end = int(last) if last else size - 1
    except ValueError:
        return "invalid"
    if start >= size or end < start:
        return "invalid"
    return start, min(end, size - 1)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-hub/1.0"
    state: State = None  # set per server
    role = "hub"

    def log_message(self, format, *args):  # keep test output clean
        pass

    def do_HEAD(self):
        self.handle_request(send_body=False)

    def do_GET(self):
        self.handle_request(send_body=True)

    def handle_request(self, send_body):
        url = urllib.parse.urlsplit(self.path)
        if self.role == "hub" and url.path.startswith("/_control/"):
            return self.control(url)
        entry = {
            "server": self.role,
            "method": self.command,
            "path": self.path,
            "authorization": self.headers.get("Authorization"),
            "range": self.headers.get("Range"),
            "user_agent": self.headers.get("User-Agent"),
        }
        # Logged before the response goes out, so a client that has its answer can rely on the
        # request being in the log (a test that resets the log next must not race with it).
        self.state.count(entry)
        entry["status"] = self.serve_cdn(url, send_body) if self.role == "cdn" else self.serve_hub(url, send_body)

    # --- the hub: /{repo_id}/resolve/{revision}/{filename} ---
    def serve_hub(self, url, send_body):
        parts = url.path.lstrip("/").split("/")
        try:
            at = parts.index("resolve")
        except ValueError:
            return self.send_error_code(404, "EntryNotFound", "Not a resolve URL", send_body)
        if at not in (1, 2) or len(parts) < at + 3:
            return self.send_error_code(404, "EntryNotFound", "Not a resolve URL", send_body)
        repo_id = "/".join(urllib.parse.unquote(p) for p in parts[:at])
        revision = urllib.parse.unquote(parts[at + 1])
        filename = urllib.parse.unquote("/".join(parts[at + 2 :]))
        if repo_id in self.state.aliases:
            target = self.state.aliases[repo_id]
            location = "/" + target + "/" + "/".join(parts[at:])
            return self.send_plain(307, {"Location": location}, b"Temporary Redirect", send_body)
        revisions = self.state.repos.get(repo_id)
        authorized = self.headers.get("Authorization") == f"Bearer {self.state.token}"
        if revisions is None or (repo_id in self.state.private and not authorized):
            return self.send_error_code(401, "RepoNotFound", "Repository not found", send_body)
        if revision in revisions:
            commit = revisions[revision]
        elif revision in self.state.commits and revision in revisions.values():
            commit = revision
        else:
            return self.send_error_code(404, "RevisionNotFound", f"Invalid rev id: {revision}", send_body)
        files = self.state.commits[commit]
        if filename not in files:
            return self.send_error_code(404, "EntryNotFound", f"{filename} does not exist", send_body,
                                        {"X-Repo-Commit": commit})
        entry = files[filename]
        if entry.lfs:
            cdn_port = self.server.cdn_port
            query = urllib.parse.urlencode({"filename": os.path.basename(filename)})
            location = f"http://{LOOPBACK}:{cdn_port}/cdn/{entry.sha256}?{query}"
            headers = {
                "Location": location,
                "X-Repo-Commit": commit,
                "X-Linked-Etag": f'"{entry.sha256}"',
                "X-Linked-Size": str(len(entry.data)),
                "ETag": f'"{entry.pointer_sha1}"',
            }
            return self.send_plain(302, headers, f"Found. Redirecting to {location}".encode(), send_body)
        headers = {"X-Repo-Commit": commit, "ETag": f'"{entry.git_sha1}"'}
        return self.send_file(entry.data, headers, send_body)

    # --- the CDN: /cdn/{sha256}?filename=... ---
    def serve_cdn(self, url, send_body):
        parts = url.path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "cdn" or parts[1] not in self.state.blobs:
            return self.send_plain(404, {}, b"NoSuchKey", send_body)
        entry = self.state.blobs[parts[1]]
        return self.send_file(entry.data, {"ETag": f'"{entry.sha256}"'}, send_body)

    # --- responses ---
    def send_file(self, data, headers, send_body):
        size = len(data)
        status, body = 200, data
        headers = dict(headers, **{"Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"})
        wanted = parse_range(self.headers.get("Range"), size)
        if wanted == "invalid":
            return self.send_plain(416, {"Content-Range": f"bytes */{size}"}, b"Range Not Satisfiable",
                                   send_body)
        if wanted is not None:
            start, end = wanted
            status, body = 206, data[start : end + 1]
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not send_body:
            return status
        cut = self.state.take_truncation(self.path)
        if cut is not None and cut < len(body):
            # Full headers, short body, then a closed connection: what a dropped transfer looks like.
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            return status
        self.wfile.write(body)
        return status

    def send_plain(self, status, headers, body, send_body):
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)
        return status

    def send_error_code(self, status, code, message, send_body, extra=None):
        headers = {"X-Error-Code": code, "X-Error-Message": message}
        headers.update(extra or {})
        body = json.dumps({"error": message}).encode()
        return self.send_plain(status, headers, body, send_body)

    # --- test controls ---
    def control(self, url):
        query = urllib.parse.parse_qs(url.query)
        state = self.state
        if url.path == "/_control/log":
            with state.lock:
                body = json.dumps(state.log)
        elif url.path == "/_control/reset":
            with state.lock:
                state.log.clear()
            body = "{}"
        elif url.path == "/_control/repos":
            body = json.dumps(state.repos)
        elif url.path == "/_control/truncate":
            rule = [query["match"][0], int(query["after"][0]), int(query.get("times", ["1"])[0])]
            with state.lock:
                state.truncations.append(rule)
            body = "{}"
        else:
            return self.send_plain(404, {}, b"unknown control", True)
        return self.send_plain(200, {}, body.encode(), True)


def make_server(state, role):
    handler = type(f"{role.capitalize()}Handler", (Handler,), {"state": state, "role": role})
    server = http.server.ThreadingHTTPServer((LOOPBACK, 0), handler)
    server.daemon_threads = True
    return server


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", action="append", default=[], metavar="ID[@REV]=DIR",
                        help="serve DIR as revision REV (default main) of repo ID")
    parser.add_argument("--alias", action="append", default=[], metavar="OLD=NEW",
                        help="a renamed repo: OLD redirects (307, same host) to NEW")
    parser.add_argument("--private", action="append", default=[], metavar="ID",
                        help="repo that needs `Authorization: Bearer TOKEN`")
    parser.add_argument("--token", default="hf_test_token")
    parser.add_argument("--lifetime", type=float, default=120.0, help="seconds before stopping")
    parser.add_argument("--max-requests", type=int, default=5000)
    args = parser.parse_args()
    if not args.repo:
        parser.error("give at least one --repo")

    state = State(args)
    hub = make_server(state, "hub")
    cdn = make_server(state, "cdn")
    hub.cdn_port = cdn.server_address[1]
    cdn.cdn_port = cdn.server_address[1]
    for server in (hub, cdn):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"http://{LOOPBACK}:{hub.server_address[1]}", flush=True)

    deadline = time.monotonic() + args.lifetime
    while not state.stop.is_set() and time.monotonic() < deadline:
        state.stop.wait(0.2)
    hub.shutdown()
    cdn.shutdown()
    reason = "request limit" if state.stop.is_set() else "lifetime"
    print(f"fake hub: stopping after {state.requests} requests ({reason})", file=sys.stderr)


if __name__ == "__main__":
    main()
