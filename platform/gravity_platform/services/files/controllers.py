"""The files API under /api/v1/files: streamed uploads and downloads, metadata, sharing and signed URLs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, head, patch, post
from litestar.openapi.spec import OpenAPIFormat, OpenAPIMediaType, OpenAPIType, Operation, Schema
from litestar.openapi.spec import RequestBody as OpenAPIRequestBody
from litestar.params import Body, FromPath, HeaderParameter, JSONBody, QueryParameter

from gravity_platform.kernel.access import AUTH_ERROR_KEY, PUBLIC
from gravity_platform.kernel.errors import BadRequestError, GravityError, NotFoundError
from gravity_platform.kernel.routing import current_principal, optional_principal, service_of
from gravity_platform.kernel.security import Principal
from gravity_platform.services.files import store
from gravity_platform.services.files.download import content_response, head_response
from gravity_platform.services.files.plugin import FilesService
from gravity_platform.services.files.schemas import FileInfo, FilePage, SharingUpdate, SignedUrl, SignedUrlRequest
from gravity_platform.services.files.services import READ, WRITE, NewUpload
from gravity_platform.services.files.transfer import NUMBER, MultipartFile, RequestBody

AnyRequest = Request[Any, Any, Any]
MULTIPART_ROOM = 1024 * 1024
"""Bytes a multipart body may carry beyond the file itself (boundaries, part headers, other fields)."""


@dataclass
class UploadOperation(Operation):
    """The upload's OpenAPI operation: the handler reads its body itself, so the schema says what it takes."""

    def __post_init__(self) -> None:
        binary = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
        form = Schema(type=OpenAPIType.OBJECT, properties={"file": binary}, required=["file"])
        self.request_body = OpenAPIRequestBody(required=True, content={
            "multipart/form-data": OpenAPIMediaType(schema=form),
            "application/octet-stream": OpenAPIMediaType(schema=binary),
        })


def _service(request: AnyRequest) -> FilesService:
    return service_of(request, FilesService)


def _reader(request: AnyRequest) -> Principal | None:
    """The caller of a route open to anonymous readers: None without a token, 401 for a token that does not verify
    (so a client with a stale token refreshes it instead of being told the file does not exist)."""
    error = request.scope.get(AUTH_ERROR_KEY)
    if isinstance(error, GravityError):
        raise error
    return optional_principal(request)


async def _content_row(request: AnyRequest, file_id: str, expires: str | None, signature: str | None
                       ) -> dict[str, Any]:
    """The file whose bytes the caller may fetch: by a valid signed URL (403 when tampered or expired), else by
    the caller's own access (404 unless they may read it)."""
    service = _service(request)
    if signature is None:
        return await service.logic.readable(file_id, _reader(request))
    service.logic.verify_signature(file_id, expires, signature)
    row = await store.fetch_file(file_id)
    if row is None:
        raise NotFoundError("No such file")
    return row


def _content_length(request: AnyRequest) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None
    if not NUMBER.match(value):
        raise BadRequestError("Content-Length is not a number")
    return int(value)


class FilesController(Controller):
    """Files: each user their own, plus what is shared with them or public."""

    path = "/api/v1/files"
    tags = ["files"]

    @post("/", opt={"permission": WRITE}, status_code=201, request_max_body_size=None,
          operation_class=UploadOperation)
    async def upload(
        self, request: AnyRequest, name: Annotated[str | None, QueryParameter(max_length=1000)] = None,
    ) -> Response[FileInfo]:
        """Upload a file: multipart/form-data with a part named `file`, or the raw bytes with `?name=`.

        The body streams to storage (hashed on the way); over the per-file limit or the caller's quota: 413."""
        service = _service(request)
        content_type = request.headers.get("content-type", "")
        length = _content_length(request)
        owner = current_principal(request).subject
        limit = service.settings.max_file_size
        if content_type.lower().startswith("multipart/form-data"):
            body = RequestBody(request.receive, limit + MULTIPART_ROOM)
            part = MultipartFile(body.chunks(), content_type)
            meta = NewUpload(owner=owner, name=None, declared_type=None, length=None)
            info = await service.logic.upload(meta, part.chunks(), multipart=part)
        else:
            body = RequestBody(request.receive, limit)
            meta = NewUpload(owner=owner, name=name, declared_type=content_type or None, length=length)
            info = await service.logic.upload(meta, body.chunks())
        return Response(info, status_code=201, headers={"Location": f"/api/v1/files/{info.id}"})

    @get("/", opt={"permission": READ})
    async def list_files(
        self, request: AnyRequest,
        cursor: Annotated[str | None, QueryParameter(max_length=500)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    ) -> FilePage:
        """The caller's files, oldest first; follow `next_cursor` for more."""
        return await _service(request).logic.list(current_principal(request), cursor, limit)

    @get("/{file_id:str}", opt={"permission": PUBLIC})
    async def get_file(self, request: AnyRequest, file_id: FromPath[str]) -> FileInfo:
        """A file's metadata (404 unless the caller may read it)."""
        return await _service(request).logic.get(file_id, _reader(request))

    @get("/{file_id:str}/content", opt={"permission": PUBLIC})
    async def content(
        self, request: AnyRequest, file_id: FromPath[str],
        expires: Annotated[str | None, QueryParameter(max_length=20)] = None,
        signature: Annotated[str | None, QueryParameter(max_length=100)] = None,
        range_header: Annotated[str | None, HeaderParameter(name="Range", required=False)] = None,
    ) -> Response[Any]:
        """The file's bytes, streamed: Range (206/416; several ranges come as `multipart/byteranges`), ETag and
        If-None-Match (304). With `expires` and `signature` (a signed URL) no token is needed; a tampered or
        expired one is 403."""
        service = _service(request)
        row = await _content_row(request, file_id, expires, signature)
        return await content_response(service.storage, row, request.headers, range_header)

    @head("/{file_id:str}/content", opt={"permission": PUBLIC})
    async def content_head(
        self, request: AnyRequest, file_id: FromPath[str],
        expires: Annotated[str | None, QueryParameter(max_length=20)] = None,
        signature: Annotated[str | None, QueryParameter(max_length=100)] = None,
        range_header: Annotated[str | None, HeaderParameter(name="Range", required=False)] = None,
    ) -> Response[None]:
        """The status and headers a GET of the bytes would answer (Content-Length, ETag, Content-Type, 206/416 for
        a Range, 304 for If-None-Match), without the bytes; the same access rules, signed URLs included."""
        service = _service(request)
        row = await _content_row(request, file_id, expires, signature)
        return await head_response(service.storage, row, request.headers, range_header)

    @delete("/{file_id:str}", opt={"permission": WRITE}, status_code=204)
    async def delete_file(self, request: AnyRequest, file_id: FromPath[str]) -> None:
        """Delete a file (owner or admin)."""
        await _service(request).logic.delete(file_id, current_principal(request))

    @patch("/{file_id:str}/sharing", opt={"permission": WRITE})
    async def share(self, request: AnyRequest, file_id: FromPath[str], data: JSONBody[SharingUpdate]) -> FileInfo:
        """Share a file with users or roles, or make it public (owner or admin); fields left out stay."""
        return await _service(request).logic.share(file_id, data, current_principal(request))

    @post("/{file_id:str}/signed-url", opt={"permission": READ}, status_code=201)
    async def signed_url(
        self, request: AnyRequest, file_id: FromPath[str],
        data: Annotated[SignedUrlRequest | None, Body()] = None,
    ) -> SignedUrl:
        """An expiring URL to the file's bytes that works without a token."""
        url, expires_at = await _service(request).logic.sign(
            file_id, current_principal(request), data.expires_in if data else None)
        return SignedUrl(url=url, expires_at=expires_at)
