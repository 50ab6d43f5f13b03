"""What the sync API's requests and answers look like, for /openapi.json.

The push route reads its body itself (orjson, spliced answers: the hot path), so its
body is described here as a JSON schema that mirrors the checks in changes.py and
model.py; the other models are pydantic's.
"""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..model import ENTITIES
from .downloads import EXPORTS

ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
_WHY = {
    400: "the request is not readable (malformed JSON, a bad encoding, the protocol header missing)",
    401: "no valid sign-in for this device, or a wrong username or password",
    403: "the signed-in account may not do this",
    404: "no such thing here",
    413: "the body, or the batch, is larger than the server takes",
    422: "a parameter or the body breaks a rule; the message names it",
    426: "the app speaks another sync protocol: update the app or the server",
    429: "too many failed sign-ins: wait as long as retry_after_s says",
    503: "busy (too many sign-ins at once) or restarting (the writer ended before this was stored):"
         " try again after the Retry-After header's seconds; for the health check, the store"
         " file is missing from its path or the write process keeps ending before it stores anything",
}


class ErrorBody(BaseModel):
    """The one shape of every error."""
    error: str
    message: str
    retry_after_s: int | None = None
    supported: list[int] | None = None


def errors(*codes: int) -> dict:
    return {c: {"model": ErrorBody, "description": _WHY[c]} for c in codes}


class Health(BaseModel):
    status: str
    protocol: int
    server_time: int
    store_check: str = Field("ok", description="SQLite's check of the store, run once at start beside the"
                                               " serving: running, or ok (a damaged store answers 503)")


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=40)
    password: str = Field(min_length=1, max_length=200)
    device_id: str = Field(min_length=1, max_length=64, pattern=ID_PATTERN)

    @field_validator("device_id")
    @classmethod
    def _not_the_servers(cls, v: str) -> str:
        # The server stamps its own writes as "server" and the office's browsers sign in
        # as "office-…" (CentralStore.open_session): a phone under those names would share
        # the server's clock stamps and have its pushes taken for the server's own.
        from .central import OFFICE_DEVICE_PREFIX, SERVER_DEVICE
        if v == SERVER_DEVICE or v.startswith(OFFICE_DEVICE_PREFIX):
            raise ValueError("is reserved for the township server's own writes: use the phone's own id")
        return v


class Account(BaseModel):
    username: str
    name: str
    role: str
    grids: list[str]


class LoginAnswer(BaseModel):
    token: str
    server_time: int
    account: Account


class FieldProblem(BaseModel):
    field: str
    rule: str
    message: str


class ChangeResult(BaseModel):
    status: str = Field(description="applied, duplicate or rejected")
    code: str | None = Field(default=None, description="rejected: invalid or forbidden")
    reason: str | None = None
    errors: list[FieldProblem] | None = None


class Counts(BaseModel):
    applied: int
    duplicate: int
    rejected: int


class PushAnswer(BaseModel):
    results: list[ChangeResult] = Field(description="one per change sent, in order")
    counts: Counts
    server_time: int
    behind: bool | None = Field(default=None, description="present (true) when the push's X-Gridbook-Acked named another "
                                "change than the last this store took from the phone: its data was put back "
                                "from an older copy; its next pull skips nothing of its own (send acked \"\")")


class PullPage(BaseModel):
    changes: list[dict] = Field(description="change records, as their authors sent them (ID numbers masked "
                                            "for phones)")
    exits: list[str] = Field(description="cases that left the caller's scope: let them go")
    household_exits: list[str] = Field(default_factory=list, description="households moved to a grid outside the "
                                       "caller's scope: let them go (their visits stay)")
    refs: dict[str, str] = Field(description="township references assigned to cases")
    reset: bool = Field(description="the caller's scope changed: start over, keeping unsent work")
    erasures: list[str] = Field(default_factory=list, description="records erased by the township, as "
                                "\"<entity>:<record>\": blank their personal fields and attachments (protocol 2)")
    cursor: str
    more: bool
    settings: dict = Field(default_factory=dict, description="the township's settings phones follow (far_m: the "
                                                              "far-visit threshold in metres)")
    generation: str | None = Field(default=None, description="the store's generation: another one than last "
                                                             "time means it was restored (offer again what was pushed)")
    generation_seq: int | None = Field(default=None, description="the log's head when this generation began")
    head: int | None = Field(default=None, description="the log's head: a cursor beyond it means the store "
                                                       "went back in time (offer again, pull again)")
    lost: bool = Field(default=False, description="the log row the cursor names is not the one the phone read: "
                                                  "the store went back in time and was written past it since "
                                                  "(offer again, pull again from the start)")
    server_time: int


EntityName = enum.Enum("EntityName", {k: k for k in ENTITIES}, type=str)


class DiscardRequest(BaseModel):
    """A refused change the phone gives up (POST /api/v1/sync/discard)."""
    model_config = ConfigDict(extra="forbid")
    change_id: str = Field(max_length=64, pattern=ID_PATTERN, description="the refused change's id")
    entity: EntityName
    record: str = Field(max_length=64, pattern=ID_PATTERN)


class DiscardAnswer(BaseModel):
    changes: list[dict] = Field(description="the record's accepted changes the caller may see, oldest first "
                                            "(none for a record it may not see); ID numbers masked for phones")
    ref: str | None = Field(default=None, description="a case's township reference")
    server_time: int


ExportKind = enum.Enum("ExportKind", {k.replace(".", "_"): k for k in EXPORTS}, type=str)

FILE_CONTENT = {"description": "the file",
                "content": {media: {"schema": {"type": "string", "format": "binary"}}
                            for media in sorted({m for m, _ in EXPORTS.values()})}}

CHANGE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "entity", "record", "fields", "hlc", "device", "author"],
    "properties": {
        "id": {"type": "string", "pattern": ID_PATTERN, "description": "the change's own id: the idempotency key"},
        "entity": {"type": "string", "enum": sorted(ENTITIES)},
        "record": {"type": "string", "pattern": ID_PATTERN},
        "fields": {"type": "object", "minProperties": 1,
                   "maxProperties": max(len(e.fields) for e in ENTITIES.values()),
                   "description": "field values; which fields and values each entity takes is in docs/sync-protocol.md"},
        "base": {"type": "object", "maxProperties": 100,
                 "additionalProperties": {"type": "array", "maxItems": 50,
                                          "items": {"type": "string", "maxLength": 100}}},
        "hlc": {"type": "string", "maxLength": 100, "pattern": r"^[0-9]{13}-[0-9]{5}-.+$",
                "description": "hybrid logical clock stamp; its node is the device"},
        "device": {"type": "string", "pattern": ID_PATTERN, "description": "the signed-in device"},
        "author": {"type": "string", "minLength": 1, "maxLength": 40, "description": "the signed-in account"},
    },
}
PUSH_BODY_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["changes"],
    "properties": {"changes": {"type": "array", "maxItems": 5000, "items": CHANGE_SCHEMA}},
}
