#!/usr/bin/env python3
"""Tuning test program: a score computed from the hyperparameters (x, layers, kind), printed once per epoch
as it climbs to its final value, with the loss falling; the model records what it was trained with.

Hyperparameters: x (0..1), layers (int), kind (a|b|c); epochs (default 3); pause (seconds per epoch).
The best score, 1.0, is at x=0.3, layers=4, kind=b. SIGTERM ends training early (the model is saved).
"""
import json
import signal
import sys
import time

CONFIG = "/opt/ml/input/config/hyperparameters.json"


def objective(hps):
    x = float(hps.get("x", "0.3"))
    layers = int(float(hps.get("layers", "4")))
    bonus = {"a": -0.2, "b": 0.0, "c": -0.1}.get(hps.get("kind", "b"), 0.0)
    return 1.0 - (x - 0.3) ** 2 - 0.01 * (layers - 4) ** 2 + bonus


def main():
    with open(CONFIG) as handle:
        hps = json.load(handle)
    stopped = []
    signal.signal(signal.SIGTERM, lambda *a: stopped.append(time.time()))
    target = objective(hps)
    epochs = int(hps.get("epochs", "3"))
    pause = float(hps.get("pause", "0"))
    print(f"hyperparameters {json.dumps(hps, sort_keys=True)}", flush=True)
    for epoch in range(1, epochs + 1):
        score = target * epoch / epochs
        print(f"epoch {epoch}: loss={1 - score:.6f} score={score:.6f}", flush=True)
        deadline = time.time() + pause
        while time.time() < deadline and not stopped:
            time.sleep(0.05)
        if stopped:
            print("got SIGTERM, saving", flush=True)
            break
    with open("/opt/ml/model/model.txt", "w") as handle:
        handle.write(f"score {target:.6f}")
    sys.exit(0)


if __name__ == "__main__":
    main()
