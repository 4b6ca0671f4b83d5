"""Content types, decoders and encoders shared by the serving stacks (and re-exported by the legacy
`sagemaker_containers.beta.framework.{content_types,encoders}` shims). Behaviour follows
sagemaker-containers: JSON/CSV/NPY to numpy and back; CSV rows are squeezed and a 1-D array encodes
as one value per line."""

from __future__ import annotations

import csv
import io
import json
import textwrap

import numpy as np

from smlocal_toolkit.errors import ClientError

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
NPZ = "application/x-npz"
JSONLINES = "application/jsonlines"
OCTET_STREAM = "application/octet-stream"
ANY = "*/*"
UTF8_TYPES = [JSON, CSV]


class UnsupportedFormatError(Exception):
    """A content type (request) or accept type (response) the framework cannot handle."""

    def __init__(self, content_type, **kwargs):
        self.content_type = content_type
        self.message = textwrap.dedent(
            f"""Content type {content_type} is not supported by this framework.

            Please implement input_fn to to deserialize the request data or an output_fn to
            serialize the response. For more information, see the SageMaker Python SDK README.""")
        super().__init__(self.message, **kwargs)


def media_type(value: str | None) -> str:
    """``'text/csv; charset=utf-8'`` -> ``'text/csv'``."""
    return (value or "").split(";", 1)[0].strip().lower()


def parse_accept(accept: str | None) -> list[str]:
    """The media types of an Accept header in the client's order, parameters (q=...) dropped."""
    return [t for t in (media_type(part) for part in (accept or "").split(",")) if t]


def array_to_npy(array_like) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array_like)
    return buffer.getvalue()


def npy_to_numpy(npy_array) -> np.ndarray:
    # Object arrays need pickle, which would let any caller run code in the container: refused.
    return np.load(io.BytesIO(npy_array), allow_pickle=False)


def _tolist(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def array_to_json(array_like) -> str:
    return json.dumps(array_like, default=_tolist)


def json_to_numpy(string_like, dtype=None) -> np.ndarray:
    return np.array(json.loads(string_like), dtype=dtype)


def csv_to_numpy(string_like, dtype=None) -> np.ndarray:
    if isinstance(string_like, (bytes, bytearray)):
        string_like = string_like.decode("utf-8")
    try:
        reader = csv.reader(io.StringIO(string_like), delimiter=",", quotechar='"', doublequote=True, strict=True)
        array = np.array(list(reader)).squeeze()
        return array.astype(dtype) if dtype is not None else array
    except ValueError as error:
        raise ClientError(f"Error while writing numpy array: {error}. dtype is: {dtype}") from error
    except Exception as error:
        raise ClientError(f"Error while decoding csv: {error}") from error


def array_to_csv(array_like) -> str:
    array = np.array(array_like)
    if array.ndim == 0:
        array = array.reshape(1, 1)
    elif array.ndim == 1:
        array = array.reshape(array.shape[0], 1)
    try:
        stream = io.StringIO()
        csv.writer(stream, lineterminator="\n", delimiter=",", quotechar='"', doublequote=True,
                   strict=True).writerows(array)
        return stream.getvalue()
    except csv.Error as error:
        raise ClientError(f"Error while encoding csv: {error}") from error


def npz_to_sparse(npz_bytes):
    import scipy.sparse

    return scipy.sparse.load_npz(io.BytesIO(npz_bytes))


DECODERS = {NPY: npy_to_numpy, CSV: csv_to_numpy, JSON: json_to_numpy}
ENCODERS = {NPY: array_to_npy, CSV: array_to_csv, JSON: array_to_json}


def decode(obj, content_type: str | None):
    """Decode a request body of one of the default content types into a numpy array."""
    decoder = DECODERS.get(media_type(content_type))
    if decoder is None:
        raise UnsupportedFormatError(content_type)
    return decoder(obj)


def encode(array_like, content_type: str | None):
    """Encode an array-like as ``content_type`` (str for JSON/CSV, bytes for NPY)."""
    encoder = ENCODERS.get(media_type(content_type))
    if encoder is None:
        raise UnsupportedFormatError(content_type)
    return encoder(array_like)


def negotiate(accept: str | None, supported, default: str) -> str:
    """The first type of ``accept`` in ``supported`` (``*/*`` or no header -> ``default``).
    Raises UnsupportedFormatError(accept) when none is."""
    types = parse_accept(accept)
    if not types:
        return default
    for candidate in types:
        if candidate == ANY:
            return default
        if candidate in supported:
            return candidate
    raise UnsupportedFormatError(accept)
