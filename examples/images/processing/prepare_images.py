"""Turn a directory of small grayscale PGM images into training arrays (runs in a processing job:
ScriptProcessor on the scikit-learn image, or TensorFlowProcessor on the TensorFlow image; NumPy only).

Reads /opt/ml/processing/input/<label>_<n>.pgm, scales pixels to [0, 1], splits the images into
training and held-out sets with the same share of every label and writes
  /opt/ml/processing/train/images.npz   x: (N, H, W, 1) float32, y: (N,) label ids
  /opt/ml/processing/test/images.npz    the held-out images, same layout
  /opt/ml/processing/labels/labels.json the label names, in label-id order
"""

import argparse
import json
import os
from pathlib import Path

import numpy as np

BASE = Path("/opt/ml/processing")


def read_pgm(path: Path) -> np.ndarray:
    """A binary (P5) 8-bit PGM file: a header of four whitespace-separated fields, then the pixels."""
    data = path.read_bytes()
    fields, position = [], 0
    while len(fields) < 4:
        while data[position:position + 1].isspace():
            position += 1
        start = position
        while not data[position:position + 1].isspace():
            position += 1
        fields.append(data[start:position])
    magic, width, height, maxval = fields[0], int(fields[1]), int(fields[2]), int(fields[3])
    if magic != b"P5" or maxval > 255:
        raise ValueError(f"{path.name}: not an 8-bit binary PGM")
    pixels = np.frombuffer(data, dtype=np.uint8, count=width * height, offset=position + 1)
    return pixels.reshape(height, width).astype(np.float32) / maxval


def stratified_split(y: np.ndarray, test_size: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out indices with the same share of every label in both."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        cut = int(round(len(members) * test_size))
        test += list(members[:cut])
        train += list(members[cut:])
    return rng.permutation(train), rng.permutation(test)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--test-size", type=float, default=0.25)
    args = parser.parse_args()

    paths = sorted((BASE / "input").glob("*.pgm"))
    names = [p.stem.rsplit("_", 1)[0] for p in paths]
    labels = sorted(set(names))
    x = np.stack([read_pgm(p) for p in paths])[..., np.newaxis]
    y = np.array([labels.index(n) for n in names], dtype=np.int64)
    print(f"read {len(paths)} images of {x.shape[1]}x{x.shape[2]} pixels, labels {labels}")

    train, test = stratified_split(y, args.test_size)
    x_train, x_test, y_train, y_test = x[train], x[test], y[train], y[test]
    for name, (xs, ys) in {"train": (x_train, y_train), "test": (x_test, y_test)}.items():
        os.makedirs(BASE / name, exist_ok=True)
        np.savez_compressed(BASE / name / "images.npz", x=xs, y=ys)
    os.makedirs(BASE / "labels", exist_ok=True)
    (BASE / "labels" / "labels.json").write_text(json.dumps(labels))
    print(f"wrote {len(y_train)} training and {len(y_test)} held-out images")


if __name__ == "__main__":
    main()
