"""Everything that can go wrong in a sync, as a small tree; the app turns each into
words for the person in one place (fieldapp), never by parsing messages.

    SyncError
     ├── Unreachable        no answer, or the server failed, after every retry
     │    ├── ServerTrouble   the server answered 5xx after every retry (a full disk)
     │    └── BadAnswer       an answer that is not the township server's (a captive
     │                        portal's page, a proxy's error, a garbled body)
     ├── AuthRequired       401: sign in again (token revoked, or never signed in)
     ├── ProtocolMismatch   426: app and server speak different protocol versions
     │    └── UpdateRequired      the app is the older one: the person must update it
     ├── Refused            another 4xx for the whole request; `message` says why
     └── OthersWork         another person signs in on a phone holding the last
                            person's unsent work (asked before any request)
"""


class SyncError(Exception):
    retry_after_s: int | None = None   # a slowed sign-in's wait, when the server said it

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status


class Unreachable(SyncError):
    pass


class ServerTrouble(Unreachable):
    """The server answered, and could not store or serve what was asked (HTTP 5xx after
    the retries: a full disk, a write process restarting): nothing was lost, and the
    phone is not the one offline. `error`: the server's own code ("disk_full"), if any."""

    def __init__(self, message: str, status: int | None = None, error: str | None = None):
        super().__init__(message, status)
        self.error = error


class BadAnswer(Unreachable):
    """Something answered that is not the township server, or not as it answers (a
    Wi-Fi sign-in page, a proxy's error page, a body cut or garbled on the way): nothing
    the phone holds is changed by it, and the sync is tried again later, as offline."""


class AuthRequired(SyncError):
    pass


class ProtocolMismatch(SyncError):
    pass


class Refused(SyncError):
    pass


class UpdateRequired(ProtocolMismatch):
    """The server has moved on to a newer sync protocol than this app speaks (HTTP 426,
    "update_required"): nothing syncs until the app is updated; local work is kept."""


class OthersWork(SyncError):
    """Someone else signs in on a phone that still holds the last person's unsent work:
    it goes out only under its author's account, so that person syncs it first."""

    def __init__(self, username: str, name: str, count: int):
        super().__init__(f"this phone holds {count} change(s) {name or username} has not synced yet:"
                         f" {username} signs in and syncs them first")
        self.username, self.name, self.count = username, name, count
