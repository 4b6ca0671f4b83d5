"""Models and endpoint configs: lists and a page each, linked both ways (a model's configs, a
config's endpoints)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from emulator.console.app import Console
from emulator.console.data import families


def model_containers(model: dict) -> list[dict]:
    if model.get("Containers"):
        return list(model["Containers"])
    return [model["PrimaryContainer"]] if model.get("PrimaryContainer") else []


def register(app: FastAPI, console: Console) -> None:
    data = console.data

    @app.get("/models", include_in_schema=False)
    def model_list(request: Request) -> Response:
        models = sorted(data.records(families.MODEL), key=lambda r: r.get("CreationTime", 0), reverse=True)
        return console.page(request, "models/list.html", section="models", title="Models",
                            rows=[{"model": m, "containers": model_containers(m)} for m in models])

    @app.get("/models/{name}", include_in_schema=False)
    def model_detail(request: Request, name: str) -> Response:
        model = data.record(families.MODEL, name)
        if model is None:
            return console.not_found(request, "models", f"No model named {name}.", console.href("/models"),
                                     "All models")
        return console.page(request, "models/detail.html", section="models", title=model["ModelName"],
                            model=model, containers=model_containers(model),
                            configs=data.referring(families.ENDPOINT_CONFIG, ("ProductionVariants", "ModelName"),
                                                   model["ModelName"]),
                            transforms=data.referring(families.TRANSFORM_JOB, ("ModelName",), model["ModelName"]),
                            tags={t["Key"]: t.get("Value", "") for t in data.tags(model["ModelArn"])})

    @app.get("/endpoint-configs", include_in_schema=False)
    def config_list(request: Request) -> Response:
        configs = sorted(data.records(families.ENDPOINT_CONFIG), key=lambda r: r.get("CreationTime", 0),
                         reverse=True)
        return console.page(request, "models/config_list.html", section="endpoint-configs",
                            title="Endpoint configs", configs=configs)

    @app.get("/endpoint-configs/{name}", include_in_schema=False)
    def config_detail(request: Request, name: str) -> Response:
        config = data.record(families.ENDPOINT_CONFIG, name)
        if config is None:
            return console.not_found(request, "endpoint-configs", f"No endpoint config named {name}.",
                                     console.href("/endpoint-configs"), "All endpoint configs")
        return console.page(request, "models/config_detail.html", section="endpoint-configs",
                            title=config["EndpointConfigName"], config=config,
                            endpoints=data.referring(families.ENDPOINT, ("EndpointConfigName",),
                                                     config["EndpointConfigName"]),
                            tags={t["Key"]: t.get("Value", "") for t in data.tags(config["EndpointConfigArn"])})
