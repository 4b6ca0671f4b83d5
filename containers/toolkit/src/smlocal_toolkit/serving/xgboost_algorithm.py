"""Built-in XGBoost algorithm serving (sagemaker-xgboost 1.7-1 with no SAGEMAKER_PROGRAM,
docs/container-contract.md 6.5): the model files of /opt/ml/model (XGBoost's format or pickled
Booster; several = ensemble), CSV and LIBSVM requests, text/csv | application/json |
application/jsonlines responses, fixed /execution-parameters."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import pickle
import threading

import numpy as np

from smlocal_toolkit import encoders, framework_version
from smlocal_toolkit.serving import xgboost_data
from smlocal_toolkit.serving.handlers import ModelHolder
from smlocal_toolkit.serving.http import Response
from smlocal_toolkit.serving.xgboost_outputs import encode_selected, select

logger = logging.getLogger("smlocal.serving")

MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", "6291456"))
SUPPORTED_ACCEPTS = ["application/json", "application/jsonlines", "application/x-recordio-protobuf", "text/csv"]
VALID_CONTENT_TYPES = ["csv", "libsvm", "parquet", "recordio-protobuf", "text/csv", "text/libsvm",
                       "text/x-libsvm", "application/x-parquet", "application/x-recordio-protobuf"]
KINDS = {"csv": "csv", "text/csv": "csv", "libsvm": "libsvm", "text/libsvm": "libsvm", "text/x-libsvm": "libsvm",
         "parquet": "parquet", "application/x-parquet": "parquet", "recordio-protobuf": "recordio-protobuf",
         "application/x-recordio-protobuf": "recordio-protobuf"}


def content_kind(content_type: str | None) -> str:
    """The container's reading of a request Content-Type (missing = libsvm, as its data_utils says; CSV
    when the job asked for an XGBoost image before 1.3, whose server defaulted to text/csv)."""
    if content_type is None:
        return "csv" if framework_version.xgboost_legacy() else "libsvm"
    media, _, params = content_type.lower().partition(";")
    media = media.strip()
    kind = KINDS.get(media)
    if kind is None:
        raise ValueError(f"{content_type} is not an accepted ContentType: {', '.join(VALID_CONTENT_TYPES)}.")
    label_size = [p.split("=", 1)[1].strip() for p in params.split(";") if p.strip().startswith("label_size=")]
    if kind == "csv" and label_size and label_size[0] != "1":
        raise ValueError(f"{content_type} is not an accepted csv ContentType. "
                         "Optional parameter label_size must be equal to 1")
    return kind


def parse_payload(payload: bytes, content_type: str | None):
    kind = content_kind(content_type)
    try:
        if kind == "csv":
            return xgboost_data.csv_to_dmatrix(payload.strip()), kind
        if kind == "libsvm":
            return xgboost_data.libsvm_to_dmatrix(payload.strip()), kind
    except Exception as error:
        raise ValueError(f"Loading {kind} data failed with Exception, please ensure data is in {kind} format:\n"
                         f" {type(error)}\n {error}") from error
    if kind == "recordio-protobuf":
        raise ValueError("Content-type application/x-recordio-protobuf is not supported by smlocal's XGBoost "
                         "image; send text/csv or text/libsvm.")
    raise ValueError(f"Content-type {content_type} is not supported.")


def load_boosters(model_dir: str, ensemble: bool):
    """[(booster, format)] for the model files of ``model_dir`` (pickle tried first, then XGBoost's format)."""
    import xgboost as xgb

    paths = [os.path.join(model_dir, f) for f in sorted(os.listdir(model_dir))
             if os.path.isfile(os.path.join(model_dir, f)) and not f.startswith(".")]
    if not paths:
        raise RuntimeError(f"No model file found in {model_dir}")
    loaded = []
    for path in paths if ensemble else paths[:1]:
        logger.info("Loading the model from %s", path)
        try:
            with open(path, "rb") as handle:
                booster, fmt = pickle.load(handle), "pkl_format"
        except Exception as pickle_error:  # noqa: BLE001 - not a pickle: XGBoost's own format
            try:
                booster, fmt = xgb.Booster(), "xgb_format"
                booster.load_model(path)
            except Exception as xgb_error:  # noqa: BLE001
                raise RuntimeError(f"Model {path} cannot be loaded:\nPickle load error={pickle_error}"
                                   f"\nXGB load model error={xgb_error}") from None
        booster.set_param("nthread", 1)
        loaded.append((booster, fmt))
    return loaded


class AlgorithmService:
    def __init__(self, model_dir: str, batch: bool, default_accept: str | None):
        self.batch = batch
        self.default_accept = default_accept or "text/csv"
        ensemble = os.environ.get("SAGEMAKER_INFERENCE_ENSEMBLE", "true") == "true"
        self.model = ModelHolder(lambda: load_boosters(model_dir, ensemble))
        self.output_keys = os.environ.get("SAGEMAKER_INFERENCE_OUTPUT")
        self._lock = threading.Lock()

    def ping(self) -> Response:
        try:
            self.model.get()
        except Exception as error:
            logger.exception("Model loading failed")
            return Response(f"Unable to load model: {error}", status=500, mimetype="text/plain")
        return Response(status=200, mimetype="text/html")

    def execution_parameters(self) -> Response:
        return Response(json.dumps({"MaxConcurrentTransforms": multiprocessing.cpu_count(),
                                    "BatchStrategy": "MULTI_RECORD",
                                    "MaxPayloadInMB": int(MAX_CONTENT_LENGTH / (1024 ** 2))}), mimetype=encoders.JSON)

    def _accept(self, header: str | None) -> str:
        types = encoders.parse_accept(header)
        if not types or types[0] == encoders.ANY:
            return self.default_accept
        for candidate in types:
            if candidate in SUPPORTED_ACCEPTS:
                return candidate
        raise ValueError(f"Accept type {header} is not supported. Please use supported accept types: "
                         f"{SUPPORTED_ACCEPTS}.")

    def _predict(self, dtest, kind):
        boosters = self.model.get()
        results = []
        for booster, fmt in boosters:
            if fmt == "pkl_format":
                expected, given = booster.num_features(), dtest.num_col()
                if kind == "libsvm" and given > expected + 1:
                    raise ValueError(f"Feature size of libsvm inference data {given} is larger than feature "
                                     f"size of trained model {expected}.")
                if kind == "csv" and expected not in (given, given + 1):
                    raise ValueError(f"Feature size of {kind} inference data {given} is not consistent with "
                                     f"feature size of trained model {expected}.")
            results.append(booster.predict(dtest, validate_features=False))
        if len(results) == 1:
            return results[0]
        objective = self.objective()
        if objective in ("multi:softmax", "binary:hinge"):
            stacked = np.stack(results)
            return np.array([np.bincount(col.astype(int)).argmax() for col in stacked.T], dtype=results[0].dtype)
        return np.mean(results, axis=0)

    def objective(self) -> str:
        config = json.loads(self.model.get()[0][0].save_config())
        return config["learner"]["objective"]["name"]

    def invocations(self, request) -> Response:
        payload = request.body
        if not payload:
            return Response("", status=204, mimetype="text/html")
        try:
            dtest, kind = parse_payload(payload, request.header("Content-Type"))
        except Exception as error:  # noqa: BLE001
            logger.error("%s", error)
            return Response(str(error), status=415, mimetype="text/html")
        try:
            self.model.get()
        except Exception as error:
            logger.exception("Model loading failed")
            return Response(f"Unable to load model: {error}", status=500, mimetype="text/html")
        try:
            with self._lock:
                predictions = self._predict(dtest, kind)
        except Exception as error:
            logger.exception("Prediction failed")
            return Response(f"Unable to evaluate payload provided: {error}", status=400, mimetype="text/html")
        try:
            accept = self._accept(request.header("Accept"))
        except ValueError as error:
            logger.error("%s", error)
            return Response(str(error), status=406, mimetype="text/html")
        if self.output_keys is not None:
            return self._selected(predictions, accept)
        return Response(self._encode(predictions.tolist(), accept), mimetype=accept)

    def _encode(self, values: list, accept: str) -> str:
        if self.batch:
            return "\n".join(map(str, values)) + "\n"
        if accept == encoders.JSON:
            return json.dumps({"predictions": [{"score": v} for v in values]})
        if accept == encoders.JSONLINES:
            return "".join(json.dumps({"score": v}) + "\n" for v in values)
        return encoders.encode(values, accept)   # text/csv; recordio-protobuf is unsupported (500)

    def _selected(self, predictions, accept: str) -> Response:
        try:
            config = json.loads(self.model.get()[0][0].save_config())
            selected = select(predictions, self.output_keys, config)
            body = encode_selected(selected, self.output_keys, accept, self.batch)
        except Exception as error:
            logger.exception("Selectable inference output failed")
            return Response(str(error), status=500, mimetype="text/html")
        return Response(body, mimetype=accept)
