"""Test processing container: `process [--mode M] [options]`.

evidence (default): writes what it sees (argv, env, config files, the files under
/opt/ml/processing/input) to <--evidence dir>/<host>.json. Other modes: fail, sleep, continuous,
cluster, oom, binary-message.
"""

import argparse
import json
import os
import signal
import socket
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--mode", default="evidence")
parser.add_argument("--evidence", default="/opt/ml/processing/evidence")
parser.add_argument("--message", default="")
parser.add_argument("--exit-code", type=int, default=1)
parser.add_argument("--seconds", type=float, default=60)
args, extra = parser.parse_known_args()
host = json.load(open("/opt/ml/config/resourceconfig.json"))["current_host"]
print(f"process starting on {host} with argv {sys.argv[1:]}", flush=True)


def files_under(root):
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, root)] = f.read().decode("utf-8", "replace")
    return found


def write_evidence(**more):
    os.makedirs(args.evidence, exist_ok=True)
    seen = {
        "argv": sys.argv, "env": dict(os.environ), "hostname": socket.gethostname(),
        "processingjobconfig": json.load(open("/opt/ml/config/processingjobconfig.json")),
        "resourceconfig": json.load(open("/opt/ml/config/resourceconfig.json")),
        "inputs": files_under("/opt/ml/processing/input") if os.path.isdir("/opt/ml/processing/input") else {},
        "extra": extra, **more,
    }
    with open(os.path.join(args.evidence, f"{host}.json"), "w") as f:
        json.dump(seen, f)


if args.mode == "evidence":
    write_evidence()
    os.makedirs("/opt/ml/processing/output/nested/deeper", exist_ok=True)
    with open("/opt/ml/processing/output/nested/deeper/result.txt", "w") as f:
        f.write(f"result from {host}")
    with open("/opt/ml/output/message", "w") as f:
        f.write(f"all good on {host}")
elif args.mode == "fail":
    print("about to fail", flush=True)
    with open("/opt/ml/output/message", "w") as f:
        f.write(args.message)
    sys.exit(args.exit_code)
elif args.mode == "sleep":
    def interrupted(signum, frame):
        with open("/opt/ml/output/message", "w") as f:
            f.write(f"stopped by signal {signal.Signals(signum).name}")
        print("interrupted", flush=True)
        sys.exit(130)
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    time.sleep(args.seconds)
    if os.path.isdir("/opt/ml/processing/output"):
        with open("/opt/ml/processing/output/slept.txt", "w") as f:
            f.write(f"slept {args.seconds:g} s")
elif args.mode == "continuous":
    os.makedirs("/opt/ml/processing/stream", exist_ok=True)
    with open("/opt/ml/processing/stream/first.txt", "w") as f:
        f.write("first")
    print("wrote first.txt", flush=True)
    time.sleep(args.seconds)
    with open("/opt/ml/processing/stream/second.txt", "w") as f:
        f.write("second")
elif args.mode == "cluster":
    peers = json.load(open("/opt/ml/config/resourceconfig.json"))["hosts"]
    addresses = {}
    for peer in peers:      # a peer's name resolves once its container runs: wait, as the toolkits do
        for _ in range(300):
            try:
                addresses[peer] = socket.gethostbyname(peer)
                break
            except socket.gaierror:
                time.sleep(0.1)
        else:
            raise SystemExit(f"{peer} never resolved")
    write_evidence(addresses=addresses)
    time.sleep(5)   # a host's name leaves DNS when its container exits: stay while peers look it up
elif args.mode == "oom":
    hog = []
    while True:
        hog.append(bytearray(50 * 1024 * 1024))
elif args.mode == "binary-message":
    with open("/opt/ml/output/message", "wb") as f:
        f.write(b"\xff\xfe\x00bad")
print(f"process done on {host}", flush=True)
