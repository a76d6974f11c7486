"""The tus 1.0 endpoint at /api/v1/files/tus (core protocol with the creation, termination, checksum and
concatenation extensions)."""

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
    NotFoundError,
    PayloadTooLargeError,
    problem_body,
    problem_response,
)
from gravity_platform.kernel.routing import current_principal, service_of
from gravity_platform.services.files.checksum import ADVERTISED, parse_checksum
from gravity_platform.services.files.concat import final_parts
from gravity_platform.services.files.plugin import FilesService
from gravity_platform.services.files.resumable import parse_metadata
from gravity_platform.services.files.services import WRITE
from gravity_platform.services.files.transfer import NUMBER, RequestBody

AnyRequest = Request[Any, Any, Any]
TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,checksum,concatenation"
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


async def _create_final(request: AnyRequest, concat: str) -> Response[None]:
    """POST with `Upload-Concat: final;<url> ...`: the final upload, made into a file at once."""
    if "upload-length" in request.headers or "upload-defer-length" in request.headers:
        raise BadRequestError("A final upload takes no Upload-Length: its length is its partial uploads'")
    urls = final_parts(concat)
    metadata = parse_metadata(request.headers.get("upload-metadata"))
    upload_id, size = await _service(request).concat.create(current_principal(request).subject, urls, metadata)
    return Response(None, status_code=201, headers=_tus_headers(
        Location=f"/api/v1/files/tus/{upload_id}", **{"Upload-Offset": str(size)}))


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
        """Create an upload (`Upload-Length`, optional `Upload-Metadata` with `filename` and `filetype`).

        Concatenation: `Upload-Concat: partial` makes a partial upload, which stays once complete instead of
        becoming a file; `Upload-Concat: final;<url> <url> ...` (no Upload-Length) makes a file of the caller's
        complete partial uploads in that order (each is then gone)."""
        _check_version(request)
        concat = request.headers.get("upload-concat")
        if concat is not None and concat.strip() != "partial":
            return await _create_final(request, concat)
        if "upload-defer-length" in request.headers:
            raise BadRequestError("Upload-Defer-Length is not supported; send Upload-Length", headers=_tus_headers())
        length = _number(request, "upload-length")
        metadata = parse_metadata(request.headers.get("upload-metadata"))
        owner = current_principal(request).subject
        upload_id = await _service(request).resumable.create(owner, length, metadata, partial=concat is not None)
        return Response(None, status_code=201,
                        headers=_tus_headers(Location=f"/api/v1/files/tus/{upload_id}", **{"Upload-Offset": "0"}))

    @head("/{upload_id:str}", opt={"permission": WRITE})
    async def offset(self, request: AnyRequest, upload_id: FromPath[str]) -> Response[None]:
        """How many bytes of the upload the server holds; `Upload-Concat` for partial and final uploads."""
        _check_version(request)
        service, owner = _service(request), current_principal(request).subject
        try:
            row = await service.resumable.status(upload_id, owner)
        except NotFoundError:
            final = await service.concat.final(upload_id, owner)
            if final is None:
                raise
            size = str(final["size"])
            return Response(None, status_code=200, headers=_tus_headers(
                **{"Upload-Concat": f"final;{final['parts']}", "Upload-Offset": size, "Upload-Length": size}))
        concat = {"Upload-Concat": "partial"} if row["partial"] else {}
        return Response(None, status_code=200, headers=_tus_headers(
            **{"Upload-Offset": str(row["offset"]), "Upload-Length": str(row["length"]), **concat}))

    @route("/{upload_id:str}", http_method=["PATCH"], opt={"permission": WRITE}, status_code=204,
           request_max_body_size=None, responses={460: CHECKSUM_MISMATCH})
    async def append(self, request: AnyRequest, upload_id: FromPath[str]) -> Response[None]:
        """Append bytes at `Upload-Offset` (409 when it is not the server's offset); the body streams to storage.

        With `Upload-Checksum: <algorithm> <base64 digest>` (tus checksum extension) the body is verified as it
        streams and counts whole or not at all: a mismatch is 460 `checksum-mismatch` and the offset stays; an
        algorithm not in `Tus-Checksum-Algorithm` is 400 `checksum-algorithm-unsupported`. A final upload
        (concatenation) takes no PATCH: 403."""
        _check_version(request)
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != OFFSET_TYPE:
            raise UnsupportedMediaTypeError(f"PATCH bodies must be {OFFSET_TYPE}", headers=_tus_headers())
        offset = _number(request, "upload-offset")
        checksum = parse_checksum(request.headers.get("upload-checksum"), _tus_headers())
        service, owner = _service(request), current_principal(request).subject
        try:
            row = await service.resumable.status(upload_id, owner)
        except NotFoundError:
            await service.concat.refuse_final(upload_id, owner)
            raise
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
