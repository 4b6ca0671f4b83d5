"""``sagemaker_containers._modules`` (``beta.framework.modules``): run or import the user's module."""

from __future__ import annotations

import importlib
import sys

from smlocal_toolkit import code, entry_point

DEFAULT_MODULE_NAME = "default_user_module_name"


def run_module(uri, args, env_vars=None, name=DEFAULT_MODULE_NAME, cache=None, wait=True, capture_error=False):
    """Run the user's module as ``python -m <name> <args>`` from /opt/ml/code."""
    return entry_point.run(uri, name, args, env_vars, capture_error=capture_error, legacy=True, module=True)


def import_module(uri, name=DEFAULT_MODULE_NAME, cache=None):
    """Fetch ``uri`` into /opt/ml/code, install its requirements and import ``name`` from there."""
    target = entry_point.code_dir()
    code.prepare_code(uri if uri != target else None, target)
    entry_point.install(name, target)
    if target not in sys.path:
        sys.path.insert(0, target)
    return importlib.import_module(name[:-3] if name.endswith(".py") else name)
