"""``sagemaker_xgboost_container.encoder``: request payloads -> ``xgboost.DMatrix``, as inference scripts
written for AWS's XGBoost container import them (``import sagemaker_xgboost_container.encoder as
xgb_encoders``; ``xgb_encoders.libsvm_to_dmatrix(request_body)``).

Behaviour as in AWS's container: CSV without a label column (delimiter sniffed from the first line, an
alphanumeric "delimiter" read as a comma, empty cells NaN), LIBSVM text (``[label] index:value ...``,
the label ignored), ``decode(obj, content_type)`` choosing by the media type (parameters ignored) and
raising ``UnsupportedFormatError`` for any other type, ``json_to_jsonlines`` for responses.
smlocal differs: RecordIO-protobuf needs AWS's ``mlio`` library, which smlocal's image lacks, so it
fails with a message saying so; ``json_to_dmatrix`` is smlocal's addition (no AWS release has it) for
scripts that expect one: a JSON row, a list of rows, or ``{"instances": [...]}`` (rows, or objects
with ``features``)."""

from __future__ import annotations

import io
import json

from sagemaker_containers import _content_types
from smlocal_toolkit.encoders import UnsupportedFormatError, media_type
from smlocal_toolkit.serving import xgboost_data

from sagemaker_xgboost_container.constants import xgb_content_types


def csv_to_dmatrix(input, dtype=None):   # AWS's parameter name (scripts pass it by keyword)
    """CSV text or UTF-8 bytes (no label column) -> DMatrix; ``dtype`` None lets numpy pick, as AWS's does
    after reading every cell as a string."""
    return xgboost_data.csv_to_dmatrix(input, dtype=dtype if dtype is not None else float)


def libsvm_to_dmatrix(string_like):
    """LIBSVM text or bytes -> DMatrix (feature indices as written; a leading label is ignored)."""
    return xgboost_data.libsvm_to_dmatrix(string_like)


def recordio_protobuf_to_dmatrix(string_like):
    raise UnsupportedFormatError(
        f"{xgb_content_types.X_RECORDIO_PROTOBUF} (smlocal's XGBoost image has no RecordIO-protobuf reader: "
        "AWS's container reads it with its mlio library; send text/csv or text/libsvm)")


def json_to_dmatrix(string_like, dtype=float):
    import numpy as np
    import xgboost as xgb

    data = json.loads(string_like.decode("utf-8") if isinstance(string_like, (bytes, bytearray)) else string_like)
    if isinstance(data, dict):
        data = data.get("instances", data.get("features"))
    if not isinstance(data, list) or not data:
        raise ValueError('json_to_dmatrix expects a row, a list of rows or {"instances": [...]}')
    rows = [row.get("features") if isinstance(row, dict) else row for row in data]
    if not isinstance(rows[0], list):
        rows = [rows]   # a single row
    return xgb.DMatrix(np.array(rows, dtype=dtype))


_dmatrix_decoders_map = {
    _content_types.CSV: csv_to_dmatrix,
    xgb_content_types.LIBSVM: libsvm_to_dmatrix,
    xgb_content_types.X_LIBSVM: libsvm_to_dmatrix,
    xgb_content_types.X_RECORDIO_PROTOBUF: recordio_protobuf_to_dmatrix,
}


def decode(obj, content_type):
    """Decode a payload of ``content_type`` (text/csv, text/libsvm, text/x-libsvm) into a DMatrix."""
    media = media_type(content_type)
    decoder = _dmatrix_decoders_map.get(media)
    if decoder is None:
        raise UnsupportedFormatError(media)
    return decoder(obj)


def json_to_jsonlines(json_data):
    """``{"predictions": [a, b]}`` (a dict or JSON text with exactly one key) -> b'a\\nb\\n' as JSON lines."""
    response = json_data if isinstance(json_data, dict) else json.loads(json_data)
    if len(response) != 1:
        raise ValueError("JSON response is not compatible for conversion to jsonlines.")
    out = io.BytesIO()
    for entries in response.values():
        for entry in entries:
            out.write((json.dumps(entry) + "\n").encode("utf-8"))
    return out.getvalue()
