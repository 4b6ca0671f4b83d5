"""``sagemaker_sklearn_container.serving``: the scikit-learn image's serving defaults (smlocal).
``serving_entrypoint`` starts the model server; ``main`` is one worker's WSGI app."""

from smlocal_toolkit.serving import main as serving_entrypoint  # noqa: F401
from smlocal_toolkit.serving.defaults import SklearnDefaults
from smlocal_toolkit.serving.wsgi import lazy_wsgi_app

default_model_fn = SklearnDefaults.default_model_fn
default_input_fn = SklearnDefaults.default_input_fn
default_predict_fn = SklearnDefaults.default_predict_fn
default_output_fn = SklearnDefaults.default_output_fn
main = lazy_wsgi_app("sklearn")
