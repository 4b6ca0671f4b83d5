"""``sagemaker_xgboost_container.data_utils``: channel data -> xgboost.DMatrix, as the built-in
algorithm reads it (docs/container-contract.md 6.3) and as XGBoost scripts import it (get_dmatrix,
get_content_type, validate_data_file_path). CSV: label first, no header, delimiter sniffed, optional
weight column; LIBSVM: ``label[:weight] idx:val ...``. Files whose names start with '.' or '_' are
skipped. Parquet and RecordIO-protobuf are accepted names but smlocal's image cannot read them (no
pyarrow / protobuf reader): they fail with a UserError saying so."""

from __future__ import annotations

import csv
import logging
import os
import tempfile

from sagemaker_algorithm_toolkit.exceptions import UserError

CSV, LIBSVM, PARQUET, RECORDIO_PROTOBUF = "csv", "libsvm", "parquet", "recordio-protobuf"
VALID_CONTENT_TYPES = [CSV, LIBSVM, PARQUET, RECORDIO_PROTOBUF, "text/csv", "text/libsvm", "text/x-libsvm",
                       "application/x-parquet", "application/x-recordio-protobuf"]
VALID_PIPED_CONTENT_TYPES = [CSV, PARQUET, RECORDIO_PROTOBUF, "text/csv", "application/x-parquet",
                             "application/x-recordio-protobuf"]
MAX_FOLDER_DEPTH = 3
log = logging.getLogger(__name__)


def get_content_type(content_type_cfg_val):
    """'text/csv; label_size=1' -> 'csv', 'text/x-libsvm' -> 'libsvm', None -> 'libsvm'."""
    if content_type_cfg_val is None:
        return LIBSVM
    media, *params = [part.strip() for part in content_type_cfg_val.lower().split(";")]
    options = dict(p.split("=", 1) for p in params if "=" in p)
    if media in (CSV, "text/csv"):
        if options.get("label_size", "1") != "1":
            raise UserError(f"{content_type_cfg_val} is not an accepted csv ContentType. Optional parameter "
                            "label_size must be equal to 1")
        return CSV
    for kind, names in ((LIBSVM, ("text/libsvm", "text/x-libsvm")), (PARQUET, ("application/x-parquet",)),
                        (RECORDIO_PROTOBUF, ("application/x-recordio-protobuf",))):
        if media == kind or media in names:
            return kind
    raise UserError(f"{content_type_cfg_val} is not an accepted ContentType: {', '.join(VALID_CONTENT_TYPES)}.")


def _is_data_file(directory: str, name: str) -> bool:
    if not os.path.isfile(os.path.join(directory, name)) or name.startswith((".", "_")):
        return False
    return not (".cache" in name and ("dtrain" in name or "dval" in name))


def data_files(data_path: str) -> list[str]:
    """Data files under ``data_path`` (a file or a directory, up to three folders deep), sorted."""
    if os.path.isfile(data_path):
        return [data_path]
    if not os.path.isdir(data_path):
        raise UserError(f"Unknown input files path: {data_path}")
    found = []
    for root, dirs, files in os.walk(data_path):
        depth = os.path.relpath(root, data_path).count(os.sep) + (root != data_path)
        if depth >= MAX_FOLDER_DEPTH:
            raise UserError(f"Folder depth exceed the limit: {MAX_FOLDER_DEPTH}.")
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        found += [os.path.join(root, f) for f in sorted(files) if _is_data_file(root, f)]
    return found


def _csv_delimiter(line: str) -> str:
    try:
        delimiter = csv.Sniffer().sniff(line).delimiter
    except Exception as error:
        raise UserError(f"Could not determine delimiter on line {line[:50]}:\n{error}") from error
    log.info("Determined delimiter of CSV input is '%s'", delimiter)
    return delimiter


def _first_line(path: str) -> str:
    with open(path, errors="ignore") as handle:
        return handle.readline()


def validate_data_file_path(data_path, content_type):
    """First-line checks of every data file (CSV: a delimiter can be sniffed; LIBSVM: ``idx:val`` pairs)."""
    kind = get_content_type(content_type)
    if not os.path.exists(data_path):
        raise UserError(f"{data_path} is not a valid path!")
    for path in data_files(data_path):
        if kind == CSV:
            _csv_delimiter(_first_line(path))
        elif kind == LIBSVM:
            line = _first_line(path).split("#")[0].split()
            if line and not all(":" in token for token in line[1:]):
                raise UserError(f"First line '{_first_line(path)[:50]}...' of file '{os.path.basename(path)}' is "
                                "not 'LIBSVM' format. Please ensure the file is in 'LIBSVM' format.")


def get_csv_dmatrix(path, csv_weights=0, is_pipe=False):
    import numpy as np
    import pandas as pd
    import xgboost as xgb

    files = [f for f in data_files(path) if os.path.getsize(f)]
    if not files:
        return None
    delimiter = _csv_delimiter(_first_line(files[0]))
    try:
        frame = pd.concat([pd.read_csv(f, header=None, sep=delimiter) for f in files], ignore_index=True)
        values = frame.to_numpy(dtype=np.float32)
    except Exception as error:
        raise UserError(f"Failed to load csv data with exception:\n{error}") from error
    features = values[:, 2:] if csv_weights == 1 else values[:, 1:]
    weights = values[:, 1] if csv_weights == 1 else None
    return xgb.DMatrix(features, label=values[:, 0], weight=weights)


def get_libsvm_dmatrix(files_path, is_pipe=False):
    import xgboost as xgb

    if is_pipe:
        raise UserError("Pipe mode not supported for LibSVM.")
    files = [f for f in data_files(files_path) if os.path.getsize(f)]
    if not files:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        merged = os.path.join(tmp, "data.libsvm")
        with open(merged, "wb") as out:
            for path in files:
                with open(path, "rb") as handle:
                    data = handle.read()
                out.write(data if data.endswith(b"\n") else data + b"\n")
        try:
            return xgb.DMatrix(f"{merged}?format=libsvm")
        except Exception as error:
            raise UserError(f"Failed to load libsvm data with exception:\n{error}") from error


def get_dmatrix(data_path, content_type, csv_weights=0, is_pipe=False):
    """A DMatrix of the channel's data, or None when it holds no data."""
    kind = get_content_type(content_type) if "/" in content_type or ";" in content_type else content_type.lower()
    if is_pipe:
        raise UserError("smlocal does not support Pipe mode; use File or FastFile input.")
    if kind == CSV:
        dmatrix = get_csv_dmatrix(data_path, csv_weights)
    elif kind == LIBSVM:
        dmatrix = get_libsvm_dmatrix(data_path)
    else:
        raise UserError(f"{kind} data is not supported by smlocal's XGBoost image (no pyarrow / RecordIO reader); "
                        "use text/csv or text/libsvm.")
    if dmatrix is not None and dmatrix.get_label().size == 0:
        raise UserError("Got input data without labels. Please check the input data set. If training job is running "
                        "on multiple instances, please switch to using single instance if number of records in the "
                        "data set is less than number of workers (16 * number of instance) in the cluster.")
    return dmatrix
