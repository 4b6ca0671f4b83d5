"""``<framework>.serving:main`` as the AWS images define it: a WSGI callable that builds the worker's
app (fetching and importing the user's code) on its first request."""

from __future__ import annotations

import threading


def lazy_wsgi_app(framework: str):
    state: dict = {}
    lock = threading.Lock()

    def main(environ, start_response):
        if "app" not in state:
            with lock:
                if "app" not in state:
                    from smlocal_toolkit.serving import algorithm_app_factory, script_app_factory
                    from smlocal_toolkit.serving.environment import ServingEnv

                    env = ServingEnv.read()
                    if framework == "xgboost" and not env.program:
                        state["app"] = algorithm_app_factory(env)()
                    else:
                        state["app"] = script_app_factory(env, framework)()
        return state["app"](environ, start_response)

    return main
