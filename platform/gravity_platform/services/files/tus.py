"""The tus 1.0 endpoint at /api/v1/files/tus (core protocol with the creation, termination and checksum
extensions)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, head, post, route
from litestar.datastructures import ResponseHeader
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath

from gravity_platform.kernel.access import PUBLIC
from gravity_platform.kernel.errors import (
    PROBLEM_JSON,
    BadRequestError,
    GravityError,
    PayloadTooLargeError,
    problem_body,
    problem_response,
)
from gravity_platform.kernel.routing import current_principal, service_of
from gravity_platform.services.files.checksum import ADVERTISED, parse_checksum
from gravity_platform.services.files.plugin import FilesService
from gravity_platform.services.files.resumable import parse_metadata
from gravity_platform.services.files.services import WRITE
from gravity_platform.services.files.transfer import NUMBER, RequestBody

AnyRequest = Request[Any, Any, Any]
TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,checksum"
OFFSET_TYPE = "application/offset+octet-stream"
CHECKSUM_MISMATCH = ResponseSpec(None, generate_examples=False, media_type=PROBLEM_JSON, description=(
    "The body does not match its `Upload-Checksum` (tus checksum extension): the chunk was discarded and the "
    "offset did not move; send it again"))


class PreconditionFailedError(GravityError):
    status, code, title = 412, "precondition-failed", "Precondition failed"


class UnsupportedMediaTypeError(GravityError):
    status, code, title = 415, "unsupported-media-type", "Unsupported media type"


def _tus_error(_: AnyRequest, error: GravityError) -> Response[bytes]:
    """Problem details, with the Tus-Resumable header every tus answer carries."""
    body = problem_body(error.status, error.code, error.title, error.detail, **error.extra)
    return problem_response(error.status, body, {**error.headers, "Tus-Resumable": TUS_VERSION})


def _service(request: AnyRequest) -> FilesService:
    return service_of(request, FilesService)


def _tus_headers(**extra: str) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, "Cache-Control": "no-store", **extra}


def _check_version(request: AnyRequest) -> None:
    if request.headers.get("tus-resumable") != TUS_VERSION:
        raise PreconditionFailedError(f"Tus-Resumable must be {TUS_VERSION}",
                                      headers={"Tus-Version": TUS_VERSION, "Tus-Resumable": TUS_VERSION})


def _number(request: AnyRequest, header: str) -> int:
    value = request.headers.get(header)
    if value is None or not NUMBER.match(value):
        raise BadRequestError(f"{header} must be a non-negative integer", headers=_tus_headers())
    return int(value)


class TusController(Controller):
    """Resumable uploads any tus 1.0 client can drive; the upload's ID becomes the file's ID."""

    path = "/api/v1/files/tus"
    tags = ["files"]
    response_headers = [ResponseHeader(name="Tus-Resumable", value=TUS_VERSION)]
    exception_handlers = {GravityError: _tus_error}

    @route("/", http_method=["OPTIONS"], opt={"permission": PUBLIC}, status_code=204)
    async def capabilities(self, request: AnyRequest) -> Response[None]:
        """What this tus server supports."""
        return Response(None, status_code=204, headers=_tus_headers(
            **{"Tus-Version": TUS_VERSION, "Tus-Extension": TUS_EXTENSIONS, "Tus-Checksum-Algorithm": ADVERTISED,
               "Tus-Max-Size": str(_service(request).settings.max_file_size)}))

    @post("/", opt={"permission": WRITE}, status_code=201)
    async def create(self, request: AnyRequest) -> Response[None]:
        """Create an upload (`Upload-Length`, optional `Upload-Metadata` with `filename` and `filetype`)."""
        _check_version(request)
        if "upload-defer-length" in request.headers:
            raise BadRequestError("Upload-Defer-Length is not supported; send Upload-Length", headers=_tus_headers())
        length = _number(request, "upload-length")
        metadata = parse_metadata(request.headers.get("upload-metadata"))
        owner = current_principal(request).subject
        upload_id = await _service(request).resumable.create(owner, length, metadata)
        return Response(None, status_code=201,
                        headers=_tus_headers(Location=f"/api/v1/files/tus/{upload_id}", **{"Upload-Offset": "0"}))

    @head("/{upload_id:str}", opt={"permission": WRITE})
    async def offset(self, request: AnyRequest, upload_id: FromPath[str]) -> Response[None]:
        """How many bytes of the upload the server holds."""
        _check_version(request)
        row = await _service(request).resumable.status(upload_id, current_principal(request).subject)
        return Response(None, status_code=200, headers=_tus_headers(
            **{"Upload-Offset": str(row["offset"]), "Upload-Length": str(row["length"])}))

    @route("/{upload_id:str}", http_method=["PATCH"], opt={"permission": WRITE}, status_code=204,
           request_max_body_size=None, responses={460: CHECKSUM_MISMATCH})
    async def append(self, request: AnyRequest, upload_id: FromPath[str]) -> Response[None]:
        """Append bytes at `Upload-Offset` (409 when it is not the server's offset); the body streams to storage.

        With `Upload-Checksum: <algorithm> <base64 digest>` (tus checksum extension) the body is verified as it
        streams and counts whole or not at all: a mismatch is 460 `checksum-mismatch` and the offset stays; an
        algorithm not in `Tus-Checksum-Algorithm` is 400 `checksum-algorithm-unsupported`."""
        _check_version(request)
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != OFFSET_TYPE:
            raise UnsupportedMediaTypeError(f"PATCH bodies must be {OFFSET_TYPE}", headers=_tus_headers())
        offset = _number(request, "upload-offset")
        checksum = parse_checksum(request.headers.get("upload-checksum"), _tus_headers())
        service, owner = _service(request), current_principal(request).subject
        row = await service.resumable.status(upload_id, owner)
        room = row["length"] - offset
        declared = request.headers.get("content-length")
        if declared is not None and NUMBER.match(declared) and int(declared) > room > -1:
            raise PayloadTooLargeError(f"The upload has {row['length']} bytes; this body goes past them",
                                       headers=_tus_headers())
        body = RequestBody(request.receive, max(room, 0))
        new_offset, _ = await service.resumable.append(upload_id, owner, offset, body.chunks(), checksum)
        if body.too_large:
            raise PayloadTooLargeError("The body went past the upload's length; the bytes up to it were kept",
                                       headers=_tus_headers(**{"Upload-Offset": str(new_offset)}))
        return Response(None, status_code=204, headers=_tus_headers(**{"Upload-Offset": str(new_offset)}))

    @delete("/{upload_id:str}", opt={"permission": WRITE}, status_code=204)
    async def terminate(self, request: AnyRequest, upload_id: FromPath[str]) -> Response[None]:
        """Abandon an upload (tus termination)."""
        _check_version(request)
        await _service(request).resumable.terminate(upload_id, current_principal(request).subject)
        return Response(None, status_code=204, headers=_tus_headers())
