"""TensorFlow inference defaults (smlocal/tensorflow image): what AWS's tensorflow-inference image
answers through TensorFlow Serving's REST API, served by smlocal's model server instead.

- model: the newest numbered SavedModel version under /opt/ml/model (``<model_dir>/1/``,
  ``<model_dir>/model/1/``, or a SavedModel directly in model_dir); its ``serving_default`` signature;
- input: ``application/json`` — ``{"instances": [...]}``, ``{"inputs": ...}`` or a bare list (taken as
  instances); ``text/csv`` — one instance per line;
- output: ``application/json`` ``{"predictions": [...]}`` (one entry per instance; a dict per instance
  when the signature has several outputs).

User code in /opt/ml/model/code/inference.py may define model_fn/input_fn/predict_fn/output_fn (the
sagemaker-inference contract). The TensorFlow Serving container's own input_handler/output_handler
hooks are not supported.
"""

from __future__ import annotations

import json
import os

from smlocal_toolkit import encoders
from smlocal_toolkit.encoders import UnsupportedFormatError
from smlocal_toolkit.serving.defaults import ToolkitDefaults


def find_saved_model(model_dir: str) -> str:
    for root in (model_dir, os.path.join(model_dir, "model")):
        if not os.path.isdir(root):
            continue
        versions = sorted((int(d) for d in os.listdir(root)
                           if d.isdigit() and os.path.isfile(os.path.join(root, d, "saved_model.pb"))), reverse=True)
        if versions:
            return os.path.join(root, str(versions[0]))
        if os.path.isfile(os.path.join(root, "saved_model.pb")):
            return root
    raise ValueError(f"No SavedModel found under {model_dir}: expected {model_dir}/<version>/saved_model.pb "
                     "(save with model.save(os.path.join(os.environ['SM_MODEL_DIR'], '1')))")


class TensorflowDefaults(ToolkitDefaults):
    def default_model_fn(self, model_dir, context=None):
        import tensorflow as tf

        loaded = tf.saved_model.load(find_saved_model(model_dir))
        signature = loaded.signatures["serving_default"]
        return loaded, signature

    def default_input_fn(self, input_data, content_type, context=None):
        kind = encoders.media_type(content_type)
        text = input_data if isinstance(input_data, str) else input_data.decode("utf-8")
        if kind == encoders.JSON:
            payload = json.loads(text)
            if isinstance(payload, dict):
                if "instances" in payload:
                    return payload["instances"]
                if "inputs" in payload:
                    return payload["inputs"]
                raise ValueError('JSON requests need "instances" or "inputs" (TensorFlow Serving REST API)')
            return payload
        if kind == encoders.CSV:
            return [[float(v) for v in line.split(",")] for line in text.splitlines() if line.strip()]
        raise UnsupportedFormatError(content_type)

    def default_predict_fn(self, data, model, context=None):
        import tensorflow as tf

        _, signature = model
        specs = signature.structured_input_signature[1]
        if len(specs) == 1:
            (name, spec), = specs.items()
            outputs = signature(**{name: tf.constant(data, dtype=spec.dtype)})
        else:
            rows = data if isinstance(data, dict) else {k: [row[k] for row in data] for k in specs}
            outputs = signature(**{k: tf.constant(rows[k], dtype=spec.dtype) for k, spec in specs.items()})
        values = {k: v.numpy().tolist() for k, v in outputs.items()}
        if len(values) == 1:
            return next(iter(values.values()))
        count = len(next(iter(values.values())))
        return [{k: v[i] for k, v in values.items()} for i in range(count)]

    def default_output_fn(self, prediction, accept, context=None):
        if encoders.JSON in encoders.parse_accept(accept) or encoders.ANY in encoders.parse_accept(accept):
            return json.dumps({"predictions": prediction}), encoders.JSON
        raise UnsupportedFormatError(accept)
