"""``sagemaker_containers._encoders`` (``beta.framework.encoders``): the serving toolkit's codecs."""

from smlocal_toolkit.encoders import *  # noqa: F403
