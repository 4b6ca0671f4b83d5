"""Each framework's default handlers, used where the user's script defines none
(docs/container-contract.md 4.5, 4.6). sklearn and XGBoost script mode follow sagemaker-containers;
PyTorch the sagemaker-inference toolkit."""

from __future__ import annotations

import io
import json
import os
import textwrap

import numpy as np

from smlocal_toolkit import encoders
from smlocal_toolkit.encoders import UnsupportedFormatError
from smlocal_toolkit.serving.http import Response

NO_MODEL_FN = textwrap.dedent("""
    Please provide a model_fn implementation.
    See documentation for model_fn at https://github.com/aws/sagemaker-python-sdk
    """)
NO_PREDICT_FN = NO_MODEL_FN.replace("model_fn", "predict_fn")


def default_accept(fallback: str = encoders.JSON) -> str:
    return os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT") or fallback


class SklearnDefaults:
    """sagemaker-scikit-learn: no default model_fn; JSON/CSV -> float32 arrays; model.predict."""

    @staticmethod
    def default_model_fn(model_dir):
        raise NotImplementedError(NO_MODEL_FN)

    @staticmethod
    def default_input_fn(input_data, content_type):
        array = encoders.decode(input_data, content_type)
        return array.astype(np.float32) if encoders.media_type(content_type) in encoders.UTF8_TYPES else array

    @staticmethod
    def default_predict_fn(input_data, model):
        return model.predict(input_data)

    @staticmethod
    def default_output_fn(prediction, accept):
        chosen = encoders.negotiate(accept, encoders.ENCODERS, default_accept())
        return Response(encoders.encode(prediction, chosen), mimetype=chosen)


class XGBoostScriptDefaults(SklearnDefaults):
    """sagemaker-xgboost script mode: requests become DMatrix (CSV, LIBSVM); booster.predict."""

    @staticmethod
    def default_input_fn(input_data, content_type):
        from smlocal_toolkit.serving import xgboost_data

        kind = encoders.media_type(content_type)
        if kind == encoders.CSV:
            return xgboost_data.csv_to_dmatrix(input_data)
        if kind in ("text/libsvm", "text/x-libsvm"):
            return xgboost_data.libsvm_to_dmatrix(input_data)
        raise UnsupportedFormatError(kind or content_type)

    @staticmethod
    def default_predict_fn(input_data, model):
        return model.predict(input_data, validate_features=False)


# --- sagemaker-inference toolkit codecs (also re-exported by the sagemaker_inference shim) ---------

def toolkit_decode(obj, content_type):
    kind = encoders.media_type(content_type)
    if kind == encoders.JSON:
        return np.array(json.loads(obj))
    if kind == encoders.CSV:
        return np.genfromtxt(io.StringIO(obj if isinstance(obj, str) else obj.decode("utf-8")), delimiter=",")
    if kind == encoders.NPY:
        return encoders.npy_to_numpy(obj)
    if kind == encoders.NPZ:
        return encoders.npz_to_sparse(obj)
    raise UnsupportedFormatError(content_type)


def _toolkit_csv(array_like) -> str:
    stream = io.StringIO()
    np.savetxt(stream, array_like, delimiter=",", fmt="%s")
    return stream.getvalue()


TOOLKIT_ENCODERS = {encoders.NPY: encoders.array_to_npy, encoders.CSV: _toolkit_csv,
                    encoders.JSON: encoders.array_to_json}


def toolkit_encode(array_like, content_type):
    encoder = TOOLKIT_ENCODERS.get(encoders.media_type(content_type))
    if encoder is None:
        raise UnsupportedFormatError(content_type)
    return encoder(array_like)


class ToolkitDefaults:
    """sagemaker-inference's DefaultInferenceHandler."""

    def default_model_fn(self, model_dir, context=None):
        raise NotImplementedError(NO_MODEL_FN.replace("https://github.com/aws/sagemaker-python-sdk",
                                                      "https://sagemaker.readthedocs.io/en/stable/"))

    def default_input_fn(self, input_data, content_type, context=None):
        return toolkit_decode(input_data, content_type)

    def default_predict_fn(self, data, model, context=None):
        raise NotImplementedError(NO_PREDICT_FN)

    def default_output_fn(self, prediction, accept, context=None):
        for content_type in encoders.parse_accept(accept):
            if content_type in TOOLKIT_ENCODERS:
                return toolkit_encode(prediction, content_type), content_type
        raise UnsupportedFormatError(accept)


class ModelLoadError(Exception):
    pass


class PytorchDefaults(ToolkitDefaults):
    """sagemaker-pytorch-inference: TorchScript model.pt (or the only .pt/.pth); tensors in, JSON/CSV/NPY out."""

    def default_model_fn(self, model_dir, context=None):
        import torch

        path = os.path.join(model_dir, "model.pt")
        if not os.path.exists(path):
            files = [f for f in sorted(os.listdir(model_dir))
                     if os.path.isfile(os.path.join(model_dir, f)) and os.path.splitext(f)[1] in (".pt", ".pth")]
            if len(files) != 1:
                raise ValueError(f"Exactly one .pth or .pt file is required for PyTorch models: {files}")
            path = os.path.join(model_dir, files[0])
        try:
            return torch.jit.load(path, map_location=torch.device("cpu"))
        except RuntimeError as error:
            raise ModelLoadError(f"Failed to load {path}. Please ensure model is saved using torchscript.") from error

    def default_input_fn(self, input_data, content_type, context=None):
        import torch

        array = toolkit_decode(input_data, content_type)
        if hasattr(array, "toarray"):  # NPZ sparse matrix
            array = array.toarray()
        if encoders.media_type(content_type) in encoders.UTF8_TYPES:
            return torch.FloatTensor(array)
        return torch.from_numpy(array)

    def default_predict_fn(self, data, model, context=None):
        import torch

        with torch.no_grad():
            model.eval()
            return model(data)

    def default_output_fn(self, prediction, accept, context=None):
        import torch

        if isinstance(prediction, torch.Tensor):
            prediction = prediction.detach().cpu().numpy().tolist()
        return super().default_output_fn(prediction, accept, context)
