"""Built-in XGBoost serving rules that need no xgboost: Content-Type reading, Accept, response encoding
and selectable inference output."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "containers" / "toolkit" / "src"))

from smlocal_toolkit.serving.xgboost_algorithm import AlgorithmService, content_kind
from smlocal_toolkit.serving.xgboost_outputs import encode_selected, select


@pytest.mark.parametrize("content_type, kind", [
    ("text/csv", "csv"), ("text/csv; label_size=1", "csv"), ("csv", "csv"), ("text/libsvm", "libsvm"),
    ("text/x-libsvm", "libsvm"), (None, "libsvm"), ("application/x-recordio-protobuf", "recordio-protobuf"),
])
def test_content_kind(content_type, kind):
    assert content_kind(content_type) == kind


def test_unknown_content_types_name_the_accepted_ones():
    with pytest.raises(ValueError, match=r"^application/json is not an accepted ContentType: csv, libsvm, "):
        content_kind("application/json")
    with pytest.raises(ValueError, match="label_size must be equal to 1"):
        content_kind("text/csv;label_size=2")


def service(batch=False, accept=None):
    return AlgorithmService("/nonexistent", batch, accept)


def test_accept_defaults_to_csv_and_refuses_others():
    assert service()._accept(None) == "text/csv" and service()._accept("*/*") == "text/csv"
    assert service(accept="application/json")._accept(None) == "application/json"
    assert service()._accept("text/html, application/jsonlines") == "application/jsonlines"
    with pytest.raises(ValueError, match=r"Accept type text/html is not supported. Please use supported accept types"):
        service()._accept("text/html")


def test_prediction_encodings():
    assert service()._encode([0.25, 0.75], "text/csv") == "0.25\n0.75\n"
    assert json.loads(service()._encode([0.25], "application/json")) == {"predictions": [{"score": 0.25}]}
    assert service()._encode([[0.1, 0.9]], "application/json") == '{"predictions": [{"score": [0.1, 0.9]}]}'
    assert service()._encode([0.25, 0.75], "application/jsonlines") == '{"score": 0.25}\n{"score": 0.75}\n'
    assert service(batch=True)._encode([[0.1, 0.9], [0.5, 0.5]], "text/csv") == "[0.1, 0.9]\n[0.5, 0.5]\n"


def test_execution_parameters():
    body = json.loads(service().execution_parameters().data)
    assert body["BatchStrategy"] == "MULTI_RECORD" and body["MaxPayloadInMB"] == 6
    assert body["MaxConcurrentTransforms"] >= 1


def test_selectable_output_for_softprob():
    config = {"learner": {"objective": {"name": "multi:softprob"}, "learner_model_param": {"num_class": "3"}}}
    predictions = np.array([[0.1, 0.7, 0.2]], dtype=np.float32)
    selected = select(predictions, "predicted_label, probabilities, predicted_score", config)
    assert selected[0]["predicted_label"] == 1 and len(selected[0]["probabilities"]) == 3
    assert np.isnan(selected[0]["predicted_score"])      # not valid for this objective
    line = encode_selected(selected, "predicted_label,probabilities", "text/csv", batch=True)
    assert line.startswith('1,"[0.10000000149011612, ') and line.endswith("]\"\n")


@pytest.mark.parametrize("version, kind", [("1.0-1", "csv"), ("0.90-2", "csv"), ("0.72", "csv"), ("1.2-2", "csv"),
                                           ("1.3-1", "libsvm"), ("", "libsvm")])
def test_a_request_without_content_type_is_csv_for_xgboost_before_1_3(monkeypatch, version, kind):
    monkeypatch.setenv("SMLOCAL_FRAMEWORK_VERSION", version)
    assert content_kind(None) == kind
    assert content_kind("text/libsvm") == "libsvm"   # a named type stays what it says
