"""Errors as Argo Server reports them: ``{"code": <grpc code>, "message": ...}`` with the HTTP status."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from triggerfish.api.routes import RouteConflict
from triggerfish.store.workflows import AlreadyExists
from workflow_runtime.controller.controller import InvalidOperation, WorkflowNotFound
from workflow_runtime.spec.errors import ManifestError

GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 412: 9, 413: 3, 422: 3, 500: 13, 503: 14}


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_response(status: int, message: str, details: list[dict[str, str]] | None = None) -> JSONResponse:
    body: dict[str, object] = {"code": GRPC_CODES.get(status, 2), "message": message}
    if details:
        body["details"] = details
    return JSONResponse(body, status_code=status)


def install(app: FastAPI) -> None:
    """Map domain errors to HTTP statuses in one place."""

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message)

    @app.exception_handler(ManifestError)
    async def manifest_error(_: Request, exc: ManifestError) -> JSONResponse:
        details = [{"field": issue.path, "reason": issue.reason} for issue in exc.issues]
        return error_response(400, str(exc), details)

    @app.exception_handler(RouteConflict)
    async def route_conflict(_: Request, exc: RouteConflict) -> JSONResponse:
        return error_response(409, str(exc))

    @app.exception_handler(AlreadyExists)
    async def conflict(_: Request, exc: AlreadyExists) -> JSONResponse:
        return error_response(409, str(exc))

    @app.exception_handler(WorkflowNotFound)
    async def not_found(_: Request, exc: WorkflowNotFound) -> JSONResponse:
        return error_response(404, str(exc.args[0]) if exc.args else "not found")

    @app.exception_handler(InvalidOperation)
    async def invalid(_: Request, exc: InvalidOperation) -> JSONResponse:
        return error_response(409, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"]} for e in exc.errors()]
        return error_response(
            400, "invalid request: " + "; ".join(f"{d['field']}: {d['reason']}" for d in details), details
        )
