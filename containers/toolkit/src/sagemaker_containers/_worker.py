"""``sagemaker_containers._worker`` (``beta.framework.worker``): the ``Response`` that legacy scikit-learn and
MXNet ``output_fn`` implementations return (``worker.Response(body, accept, mimetype=accept)``)."""

from smlocal_toolkit.serving.http import Response  # noqa: F401
