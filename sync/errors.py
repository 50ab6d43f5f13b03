"""Everything that can go wrong in a sync, as a small tree; the app turns each into
words for the person in one place (fieldapp), never by parsing messages.

    SyncError
     ├── Unreachable        no answer, or the server failed, after every retry
     ├── AuthRequired       401: sign in again (token revoked, or never signed in)
     ├── ProtocolMismatch   426: app and server speak different protocol versions
     │    └── UpdateRequired      the app is the older one: the person must update it
     └── Refused            another 4xx for the whole request; `message` says why
"""


class SyncError(Exception):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status


class Unreachable(SyncError):
    pass


class AuthRequired(SyncError):
    pass


class ProtocolMismatch(SyncError):
    pass


class Refused(SyncError):
    pass


class UpdateRequired(ProtocolMismatch):
    """The server has moved on to a newer sync protocol than this app speaks (HTTP 426,
    "update_required"): nothing syncs until the app is updated; local work is kept."""
