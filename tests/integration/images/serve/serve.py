#!/usr/bin/env python3
"""Test inference server on :8080 (GET /ping, POST /invocations), behaviour chosen by Environment.

PING=fail        /ping answers 500 forever (the endpoint must fail with our last log lines)
EXIT_CODE=n      exit at once with code n
START_DELAY=s    /ping answers 503 for s seconds first
TAG=x            prefix responses with "x:" (serial pipelines show the chain)
LINES=1          text/csv and JSON Lines bodies answer one line per input line (batch transform):
                 CSV -> the row sum; JSON Lines -> {"sum": ...} of the "features" list; a line
                 containing "reject" makes the request answer 400 naming that line
EXECUTION_PARAMETERS=json   GET /execution-parameters answers this JSON (else 404, as most containers)
Request bodies drive the rest:
  "status:<code>:<text>"  answer <code> with <text>
  "sleep:<seconds>"       answer after sleeping
  "inspect"               answer JSON: headers, environment, /opt/ml/model files, hostname
  anything else           a prediction: CSV rows / JSON lists / .npy arrays -> their row sums, as JSON,
                          with the model's /opt/ml/model/model.txt; other content types are echoed
"""
import http.server
import json
import os
import socket
import struct
import sys
import time

STARTED = time.time()
MODEL = "/opt/ml/model"


def model_files():
    found = {}
    for base, _, files in os.walk(MODEL):
        for name in files:
            path = os.path.join(base, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, MODEL)] = handle.read(2000).decode("utf-8", "replace")
    return found


def load_npy(data):
    if data[:6] != b"\x93NUMPY":
        raise ValueError("not an npy file")
    major = data[6]
    if major == 1:
        (length,), offset = struct.unpack("<H", data[8:10]), 10
    else:
        (length,), offset = struct.unpack("<I", data[8:12]), 12
    header = eval(data[offset:offset + length].decode("latin-1"))
    fmt = {"<f8": "d", "<f4": "f", "<i8": "q", "<i4": "i"}[header["descr"]]
    shape = header["shape"]
    values = list(struct.iter_unpack("<" + fmt, data[offset + length:]))
    flat = [v[0] for v in values]
    if len(shape) == 1:
        return [flat]
    cols = shape[1]
    return [flat[i:i + cols] for i in range(0, len(flat), cols)]


def predict(body, content_type):
    base = (content_type or "").split(";")[0].strip()
    if base == "text/csv":
        rows = [[float(x) for x in line.split(",")] for line in body.decode().splitlines() if line.strip()]
    elif base == "application/json":
        data = json.loads(body)
        rows = data if data and isinstance(data[0], list) else [data]
    elif base == "application/x-npy":
        rows = load_npy(body)
    else:
        return None
    model = model_files().get("model.txt", "")
    return json.dumps({"predictions": [sum(r) for r in rows], "model": model}).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # headers and body go out in separate writes

    def log_message(self, fmt, *args):
        print(f"{self.command} {self.path}", flush=True)

    def reply(self, status, body, content_type="application/json", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/execution-parameters" and os.environ.get("EXECUTION_PARAMETERS"):
            return self.reply(200, os.environ["EXECUTION_PARAMETERS"].encode())
        if self.path != "/ping":
            return self.reply(404, b"{}")
        if os.environ.get("PING") == "fail":
            print("ping failing on purpose: model weights not found", flush=True)
            return self.reply(500, b"unhealthy")
        if time.time() - STARTED < float(os.environ.get("START_DELAY", "0")):
            return self.reply(503, b"starting")
        return self.reply(200, b"")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path != "/invocations":
            return self.reply(404, b"{}")
        tag = os.environ.get("TAG")
        extra = {}
        attributes = self.headers.get("X-Amzn-SageMaker-Custom-Attributes")
        if attributes:
            extra["X-Amzn-SageMaker-Custom-Attributes"] = "seen=" + attributes
        if body.startswith(b"status:"):
            _, code, text = body.decode().split(":", 2)
            print(f"answering {code} on purpose", flush=True)
            return self.reply(int(code), text.encode(), "text/plain")
        if body.startswith(b"sleep:"):
            time.sleep(float(body.decode().split(":", 1)[1]))
            return self.reply(200, b"slept", "text/plain", extra)
        if body.strip() == b"inspect":
            seen = {"headers": dict(self.headers.items()), "env": dict(os.environ), "model": model_files(),
                    "hostname": socket.gethostname(), "tag": tag}
            return self.reply(200, json.dumps(seen).encode(), "application/json", extra)
        content_type = self.headers.get("Content-Type")
        if os.environ.get("LINES"):
            return self.lines(body, content_type)
        if tag:
            return self.reply(200, f"{tag}:".encode() + body, content_type or "text/plain", extra)
        try:
            prediction = predict(body, content_type)
        except Exception as err:  # noqa: BLE001
            return self.reply(400, f"cannot parse the {content_type} payload: {err}".encode(), "text/plain")
        if prediction is None:
            return self.reply(200, body, content_type or "application/octet-stream", extra)
        accept = self.headers.get("Accept") or "application/json"
        return self.reply(200, prediction, "application/json" if accept == "*/*" else accept, extra)


def _line_answer(line, content_type):
    if "reject" in line:
        raise ValueError(f"cannot score record {line!r}")
    if content_type == "text/csv":
        return str(sum(float(x) for x in line.split(",")))
    return json.dumps({"sum": sum(json.loads(line)["features"])})


def _lines(self, body, content_type):
    base = (content_type or "").split(";")[0].strip()
    count = len([line for line in body.splitlines() if line.strip()])
    print(f"batch of {count} records", flush=True)
    try:
        answers = [_line_answer(line, base) for line in body.decode().splitlines() if line.strip()]
    except Exception as err:  # noqa: BLE001
        return self.reply(400, str(err).encode(), "text/plain")
    return self.reply(200, ("\n".join(answers) + "\n").encode(), "text/csv" if base == "text/csv" else base)


Handler.lines = _lines


def main():
    print(f"started as {sys.argv}", flush=True)
    if os.environ.get("EXIT_CODE"):
        print("exiting on purpose before serving", flush=True)
        sys.exit(int(os.environ["EXIT_CODE"]))
    print(f"serving on 8080 with model files {sorted(model_files())}", flush=True)
    server = http.server.ThreadingHTTPServer(("0.0.0.0", 8080), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
