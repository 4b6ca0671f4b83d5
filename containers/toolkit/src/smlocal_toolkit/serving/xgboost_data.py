"""Request payloads -> xgboost.DMatrix for the XGBoost image (script-mode defaults and the built-in
algorithm): CSV without label (delimiter sniffed, empty cells NaN) and LIBSVM (zero-based indices,
label optional and ignored)."""

from __future__ import annotations

import csv

import numpy as np


def csv_to_dmatrix(payload, dtype=float):
    import xgboost as xgb

    text = payload.decode("utf-8") if isinstance(payload, (bytes, bytearray)) else payload
    text = text.strip("\r\n")
    try:
        delimiter = csv.Sniffer().sniff(text.split("\n")[0][:512]).delimiter
    except csv.Error:  # a single column has no delimiter to find
        delimiter = ","
    if delimiter.isalnum():
        delimiter = ","
    rows = [["nan" if cell == "" else cell for cell in line.rstrip("\r").split(delimiter)]
            for line in text.split("\n")]
    return xgb.DMatrix(np.array(rows).astype(dtype))


def libsvm_to_dmatrix(payload):
    import xgboost as xgb
    from scipy.sparse import csr_matrix

    text = payload.decode("utf-8") if isinstance(payload, (bytes, bytearray)) else payload
    rows, cols, values = [], [], []
    lines = text.strip().split("\n")
    for row, line in enumerate(lines):
        for item in line.split():
            if ":" in item:
                index, value = item.split(":", 1)
                rows.append(row)
                cols.append(int(index))
                values.append(float(value))
    if not values:
        raise ValueError("no feature (index:value) found in the libsvm payload")
    shape = (len(lines), max(cols) + 1)
    return xgb.DMatrix(csr_matrix((np.array(values), (np.array(rows), np.array(cols))), shape=shape))
