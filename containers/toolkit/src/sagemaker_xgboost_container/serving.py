"""``sagemaker_xgboost_container.serving``: the XGBoost image's script-mode serving defaults (smlocal).
``serving_entrypoint`` starts the model server (the built-in algorithm when SAGEMAKER_PROGRAM is unset);
``main`` is one worker's WSGI app."""

from smlocal_toolkit.serving import main as serving_entrypoint  # noqa: F401
from smlocal_toolkit.serving.defaults import XGBoostScriptDefaults
from smlocal_toolkit.serving.wsgi import lazy_wsgi_app

default_model_fn = XGBoostScriptDefaults.default_model_fn
default_input_fn = XGBoostScriptDefaults.default_input_fn
default_predict_fn = XGBoostScriptDefaults.default_predict_fn
default_output_fn = XGBoostScriptDefaults.default_output_fn
main = lazy_wsgi_app("xgboost")
