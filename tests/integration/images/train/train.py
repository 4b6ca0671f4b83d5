#!/usr/bin/env python3
"""Test training program: behaviour chosen by hyperparameters, evidence written to /opt/ml/model.

Hyperparameters (all optional): mode = ok | fail-file | exit | sleep | oom | cluster;
seconds (sleep); exit_code; epochs (metric lines); message (failure text).
"""
import json
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request

ML = "/opt/ml"
MODEL = os.path.join(ML, "model")
CONFIG = os.path.join(ML, "input", "config")
DATA = os.path.join(ML, "input", "data")


def read_json(name):
    path = os.path.join(CONFIG, name)
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def tree(root):
    found = {}
    for base, _, files in os.walk(root):
        for name in files:
            path = os.path.join(base, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, root)] = handle.read().decode("utf-8", "replace")
    return found


def resolve(host):
    """Peers' names may take a moment to appear in DNS (as on SageMaker): retry for 10 s."""
    for _ in range(100):
        try:
            return socket.gethostbyname(host)
        except OSError:
            time.sleep(0.1)
    return socket.gethostbyname(host)


def s3_reachable():
    url = os.environ.get("S3_ENDPOINT_URL")
    if not url:
        return "no S3_ENDPOINT_URL"
    try:
        urllib.request.urlopen(url, timeout=10)
        return "200"
    except urllib.error.HTTPError as err:
        return str(err.code)
    except Exception as err:  # noqa: BLE001
        return f"error: {err}"


def cluster_exchange(host, resource, evidence):
    """Every host resolves its peers by name; algo-1 receives a message from another host."""
    peers = [h for h in resource["hosts"] if h != host]
    evidence["peers"] = {peer: resolve(peer) for peer in peers}
    if host == "algo-1":
        server = socket.socket()
        server.bind(("0.0.0.0", 7777))
        server.listen()
        conn, _ = server.accept()
        evidence["received"] = conn.recv(100).decode()
        conn.close()
        return
    for _ in range(100):
        try:
            with socket.create_connection(("algo-1", 7777), timeout=2) as sock:
                sock.sendall(f"hello from {host}".encode())
            return
        except OSError:
            time.sleep(0.1)


def main():
    hps = read_json("hyperparameters.json") or {}
    resource = read_json("resourceconfig.json")
    host = resource["current_host"]
    mode = hps.get("mode", "ok")
    terminated = []
    signal.signal(signal.SIGTERM, lambda *a: terminated.append(time.time()))
    print(f"starting on {host} with argv {sys.argv[1:]}", flush=True)   # after the handler: tests wait for it
    evidence = {
        "argv": sys.argv, "env": dict(os.environ), "hyperparameters": hps, "resourceconfig": resource,
        "inputdataconfig": read_json("inputdataconfig.json"),
        "checkpointconfig": read_json("checkpointconfig.json"),
        "channels": {c: tree(os.path.join(DATA, c)) for c in sorted(os.listdir(DATA))},
        "checkpoints_at_start": tree("/opt/ml/checkpoints") if os.path.isdir("/opt/ml/checkpoints") else None,
        "s3": s3_reachable(), "hostname": socket.gethostname(), "uid": os.getuid(),
    }
    for epoch in range(int(hps.get("epochs", 0))):
        print(f"epoch {epoch}:\ttrain-loss={1.0 / (epoch + 1):.4f}\tval-acc={epoch / 10:.2f}", flush=True)
    if mode == "cluster":
        cluster_exchange(host, resource, evidence)
    if os.path.isdir("/opt/ml/checkpoints"):
        with open(f"/opt/ml/checkpoints/{host}-step.txt", "w") as handle:
            handle.write(f"written by {host}")
    with open(os.path.join(MODEL, f"evidence-{host}.json"), "w") as handle:
        json.dump(evidence, handle)
    with open(os.path.join(MODEL, "model.txt"), "w") as handle:
        handle.write(f"model from {host}")
    os.makedirs(os.path.join(ML, "output", "data"), exist_ok=True)
    with open(os.path.join(ML, "output", "data", f"report-{host}.txt"), "w") as handle:
        handle.write("report")
    if mode == "fail-file":
        with open(os.path.join(ML, "output", "failure"), "w") as handle:
            handle.write(hps.get("message", "the algorithm failed on purpose"))
        sys.exit(2)
    if mode == "exit":
        print("about to exit badly", flush=True)
        sys.exit(int(hps.get("exit_code", 3)))
    if mode == "oom":
        hog = []
        while True:
            hog.append(bytearray(50 * 1024 * 1024))
    if mode == "sleep":
        deadline = time.time() + float(hps.get("seconds", 60))
        tick = 0
        while time.time() < deadline and not terminated:
            print(f"tick {tick}", flush=True)
            tick += 1
            time.sleep(0.25)
        if terminated:
            print("got SIGTERM, saving", flush=True)
            with open(os.path.join(MODEL, "terminated.txt"), "w") as handle:
                handle.write("saved on SIGTERM")
    print(f"done on {host}", flush=True)


if __name__ == "__main__":
    main()
