"""The sync client (httpx): push the outbox, then pull what is new, in batches.

Used by the app's background task and by `gridbook sync`. Every request is retried
with exponential backoff on network errors and 5xx answers; progress is persisted
after each batch (outbox entries leave only when the server has answered for them,
the pull cursor moves in the same transaction as the page it covers), so an
interrupted sync resumes where it stopped and repeating a request is harmless.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import httpx

from . import changes, clock, rules, updates
from .attachments import CHUNK_BYTES
from .device import DeviceReplica
from .errors import (AuthRequired, BadAnswer, OthersWork, ProtocolMismatch, Refused, ServerTrouble, SyncError,
                     Unreachable, UpdateRequired)

TIME_HEADER = "x-gridbook-server-time"
PULL_PATH = "/api/v1/sync/pull"
PUSH_PATH = "/api/v1/sync/push"
PUSH_HEADERS = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
# gzip level of a push: 6 sends 500 visits in 69 bytes each where 1 took 83 (random ids
# and Chinese text leave little to squeeze), for 2.9 ms of CPU instead of 1.4 (a PC core).
PUSH_GZIP_LEVEL = 6
# The township server's own words for "this body is at fault" (413 too large, 400 not
# JSON, 422 not a push): only these split a batch down to the change at fault. Any
# other answer without results (a captive portal's page, a proxy's 403) says nothing
# about the changes, and quarantining them for it stranded a whole outbox.
BODY_ERRORS = frozenset({"body_too_large", "batch_too_large", "malformed_json", "bad_encoding", "invalid_request"})
CURSOR_RE = re.compile(r"[0-9]{1,18}(\.[0-9a-f]{0,16}0?)?")


@dataclass
class SyncReport:
    pushed: int = 0
    duplicates: int = 0
    quarantined: int = 0
    pulled: int = 0
    discarded: int = 0
    pending: int = 0
    reset: bool = False
    recovered: int = 0      # kept changes a restored server lacked, offered again and applied
    exits: int = 0          # cases and households the server said left this person (screens redraw)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def sign_out(replica) -> None:
    """Forget the sign-in. Its token is not kept, not even as the phone's proof at the next
    sign-in: a live credential must not outlast a sign-out on the phone."""
    replica.set_meta("token", None)


class SyncClient:
    protocol = changes.PROTOCOL_VERSION  # the sync protocol this app speaks (an old app: a lower one)

    def __init__(self, replica: DeviceReplica, server: str, *, http: httpx.Client | None = None,
                 batch: int = 500, page: int = 1000, retries: int = 5, backoff_s: float = 0.5,
                 timeout_s: float = 30.0, deadline_s: float | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.replica = replica
        self.server = server.rstrip("/")
        self.http = http or httpx.Client(timeout=timeout_s)
        # A whole answer's time limit: httpx's timeout is for each read, and an answer
        # dribbled a byte at a time was never cut off. Generous: a page of 1,000 records
        # takes about a minute over 50 kbit/s, a photo of 2 MB about five.
        self.deadline_s = deadline_s if deadline_s is not None else max(600.0, 20 * timeout_s)
        self.batch, self.page = batch, page
        self.retries, self.backoff_s, self.sleep = retries, backoff_s, sleep

    # --- signing in ---------------------------------------------------------------
    @property
    def signed_in(self) -> bool:
        return self.replica.meta("token") is not None

    def account(self) -> dict | None:
        raw = self.replica.meta("account")
        return json.loads(raw) if raw else None

    def login(self, username: str, password: str) -> dict:
        """Sign in. Another person than the last one gets a phone that holds nothing of
        the last one's (their records, their fetched photos, what they had read), once the
        server has taken the new password; while the last one's work is unsent, no one
        else signs in (OthersWork): it can only go out under its author's account."""
        before = self.account()
        other = before is not None and before.get("username") != username
        if other:
            unsent = len(self.replica.outbox_ids())
            if unsent:
                raise OthersWork(before["username"], before.get("name") or "", unsent)
        # the sign-in this phone holds proves it is the owner's own: the server then does not
        # slow it for failures a guesser made elsewhere
        proof = self.replica.meta("token")
        r = self._request("POST", "/api/v1/auth/login", json={
            "username": username, "password": password, "device_id": self.replica.device_id},
            headers={"Authorization": f"Bearer {proof}"} if proof else None)
        data = _json(r)
        if not (isinstance(data, dict) and isinstance(data.get("token"), str) and data["token"]
                and isinstance(data.get("account"), dict) and isinstance(data["account"].get("username"), str)):
            raise BadAnswer(_not_ours(r, "sign-in"))
        if other:
            self.replica.hand_over()
            from .attachments import Attachments
            Attachments.for_replica(self.replica).forget_fetched()
        with self.replica.transaction():
            if updates.starts_afresh(before, data["account"]["username"]):
                self.replica.start_seen_afresh()
            self.replica.set_meta("token", data["token"])
            self.replica.set_meta("account", json.dumps(data["account"], ensure_ascii=False))
            self.replica.set_meta("cursor", None)
        self._learn_time(r)
        return data["account"]

    def _refresh_account(self) -> None:
        """After a reset, the account's grids as the directory now says."""
        acct = self.account()
        staff = self.replica.get("staff", f"staff-{acct['username']}") if acct else None
        if staff:
            acct["grids"] = staff.get("grids") or []
            self.replica.set_meta("account", json.dumps(acct, ensure_ascii=False))

    def logout(self) -> None:
        sign_out(self.replica)

    # --- the sync -----------------------------------------------------------------
    def sync(self, progress: Callable[[dict], None] | None = None) -> SyncReport:
        report = SyncReport()
        rp = self.replica
        self.settle_discards(report)
        if rp.meta("retry_unknown") and not rp.release_unknown_refusals():
            rp.set_meta("retry_unknown", None)   # taken back after a restore, their record came since
        self.push(report, progress)
        self.settle_discards(report)   # moves the phone made by itself, refused just now
        if rp.meta("reoffer_pending"):  # some offered again were not answered last time
            report.recovered += self.reoffer(report)
        self.pull(report, progress)
        if rp.meta("fetched_to_forget"):   # cases left the phone: so do the photos fetched for them
            from .attachments import Attachments, named_hashes
            Attachments.for_replica(rp).forget_fetched(named_hashes(rp))
            rp.set_meta("fetched_to_forget", None)
        released = rp.release_unknown_refusals() if report.recovered else 0
        if released:   # records a restored server lacked are back: what built on them goes again
            again = self.push(SyncReport(), progress)
            report.pushed += again.pushed
            report.duplicates += again.duplicates
            report.quarantined = max(0, report.quarantined - released) + again.quarantined
        report.pending = rp.pending_count()
        return report

    def push(self, report: SyncReport | None = None, progress=None) -> SyncReport:
        """Send the outbox in batches, oldest first. Each batch is sent on a thread of its
        own (_Ahead) while this phone reads and compresses the next one; once a batch's
        answer says every change of it landed, the next is sent at once and the answer
        folded into the outbox meanwhile: the phone's CPU works beside the server's. A
        batch is never sent before the one before it was answered, so the server sees
        the pushes in the order they were made; after any refusal the next batch is
        made again from the outbox (held changes stay behind)."""
        report = report or SyncReport()
        size = self.batch
        rp = self.replica
        if rp.undated_waiting():
            # written since the phone restarted: dated by the township's time before they
            # go (the server takes a time behind as it comes, and keeps it)
            self._request("GET", "/api/v1/health")
        rp.release_clock_refusals(rp.clock.physical(), changes.MAX_AHEAD_MS)
        sent = None  # the batch on its way: (its rows, its body, the _Ahead sending it)
        restamped = False
        # The first push of a sync names the last change the server took from this phone,
        # as it knows it: a phone put back from an older copy names an earlier one, is
        # told it is "behind", and its next pull skips nothing of its own (catch_up). Only
        # the first: the next batch is made before the answer to this one is folded.
        acked = rp.meta("acked") or ""
        while True:
            if sent is None:
                report.quarantined += rp.hold_behind_refused()
                rows, content = _push_body(rp.pending(size))
                if not rows:
                    return report
                # a header, which a server from before ignores (it refuses a body's unknown key)
                headers = PUSH_HEADERS if acked is None else {**PUSH_HEADERS, "X-Gridbook-Acked": acked}
                acked = None
                sent = (rows, content, _Ahead(self, "POST", PUSH_PATH, content=content, headers=headers))
            rows, content, ahead = sent
            sent = None
            following = _push_body(rp.pending(size, after=rows[-1][0])) if len(rows) == self.batch else None
            r = self._request("POST", PUSH_PATH, first=ahead.take(), content=content, headers=ahead.headers,
                              ok=(200, 403, 413, 422, 400))
            data = _json(r)
            if isinstance(data, dict) and isinstance(data.get("results"), list):
                results = data["results"]
                if data.get("behind") is True:
                    rp.set_meta("catch_up", "1")
                if following and following[0] and _landed(rows, results):
                    held = rp.hold_behind_refused()  # a change made meanwhile behind a refused one
                    report.quarantined += held
                    if not held:
                        sent = (*following, _Ahead(self, "POST", PUSH_PATH, content=following[1],
                                                   headers=PUSH_HEADERS))
                self._settle(rows, results, report)
                size = self.batch
                if not restamped and any(_rule_of(res) == "clock_ahead" for res in results):
                    # refused for a date ahead: the answer's time put the clock right and
                    # stamped them again (learn_server_time); they go now, once
                    restamped = True
                    report.quarantined -= rp.release_clock_refusals(rp.clock.physical(), changes.MAX_AHEAD_MS)
            elif not (isinstance(data, dict) and data.get("error") in BODY_ERRORS):
                raise BadAnswer(_not_ours(r, "push"))   # the outbox stays as it is
            elif len(rows) > 1:
                # The request as a whole was refused (too large, or unreadable): split it
                # until the one change at fault stands alone, so it blocks nothing else.
                size = max(1, len(rows) // 2)
                continue
            else:
                msg = (data or {}).get("message") if isinstance(data, dict) else None
                self.replica.quarantine(rows[0][0], msg or f"refused with HTTP {r.status_code}")
                report.quarantined += 1
            if progress:
                progress({"phase": "push", "pushed": report.pushed, "quarantined": report.quarantined,
                          "pending": self.replica.pending_count()})

    def settle_discards(self, report: SyncReport | None = None) -> SyncReport:
        """Refused changes the person gave up: the server audits each and answers the
        record's accepted changes (those this person may see); the phone rebuilds the
        record from them (DeviceReplica.apply_discard). Before the push, so a correction
        written in the same transaction goes with it. A discard the server refuses (an
        older server without the route) keeps waiting, and says why."""
        report = report or SyncReport()
        for d in self.replica.pending_discards():
            try:
                r = self._request("POST", "/api/v1/sync/discard", json=d)
            except Refused as e:
                report.errors.append(f"discard {d['change_id']}: {e.message}")
                continue
            data = r.json()
            try:
                self.replica.apply_discard(d["change_id"], data.get("changes") or [], data.get("ref"))
            except (KeyError, ValueError, sqlite3.Error) as e:
                # rolled back whole: it waits for the next sync, and never stops this one
                report.errors.append(f"discard {d['change_id']}: {e}")
                continue
            report.discarded += 1
        return report

    def _settle(self, rows, results, report) -> None:
        if len(results) != len(rows):
            raise Refused("the server answered for a different number of changes", 200)
        if not all(isinstance(res, dict) and isinstance(res.get("status"), str) for res in results):
            raise BadAnswer("the server's answer to a push holds results that are not results")
        done, stale = [], {}
        for (cid, body), res in zip(rows, results):
            status = res.get("status")
            if status in ("applied", "duplicate"):
                done.append(cid)
                report.pushed += status == "applied"
                report.duplicates += status == "duplicate"
            else:
                self.replica.quarantine(cid, res.get("reason") or "refused", res.get("errors"))
                if self._implied_alone(cid, body):
                    self.replica.request_discard(cid)   # settled after the push (sync)
                elif _rule_of(res) == "status_moved_on":
                    stale[cid] = None
                else:
                    report.quarantined += 1
        self.replica.acknowledge(done)
        report.quarantined += self._give_up_stale(stale)

    def _give_up_stale(self, stale: dict) -> int:
        """Moves made on a state the matter has left (status_moved_on), refused again at
        every retry, held every later move of it behind them (the person's 办结 on the
        matter as it now stands): the first of a record's is given up, with the later ones
        when all of those are such moves too (a 进展's implied 办理中, then 办结, both
        offline). The phone then shows the matter as it is and the person decides again;
        the 办结 entry written with them stays refused, its words kept for 更正. A record
        with anything else of the person's behind them is left to the person. Returns how
        many are left."""
        left, given_up = 0, set()
        for cid in stale:
            plan = self.replica.discard_plan(cid, dependents=False)
            if plan["record"] in given_up:
                continue   # goes with the first of its record
            if any(c in stale for c in plan["earlier"]) or not all(c in stale for c in plan["later"]):
                left += 1
                continue
            self.replica.request_discard(cid)
            given_up.add(plan["record"])
        return left

    def _implied_alone(self, cid: str, body: str) -> bool:
        """A refused move the phone made by itself (rules.implied), with nothing of the
        person's waiting behind it: given up without asking them."""
        try:
            ch = json.loads(body)
        except ValueError:
            return False
        return (isinstance(ch, dict) and rules.implied(ch.get("entity"), ch.get("fields"))
                and self.replica.last_of_its_record(cid))

    def pull(self, report: SyncReport | None = None, progress=None) -> SyncReport:
        report = report or SyncReport()
        ahead = None  # the next page, asked for while this one is folded (_Ahead)
        restores = 0
        while True:
            # the last change of ours the server took, as this phone knows it: a phone put
            # back from an older copy names an earlier one, and gets its later ones back
            params = {"limit": self.page,
                      "acked": "" if self.replica.meta("catch_up") else self.replica.meta("acked") or ""}
            if self.replica.cursor:
                params["cursor"] = self.replica.cursor
            first = ahead.take() if ahead and ahead.params == params else None
            ahead = None
            r = self._request("GET", PULL_PATH, params=params, first=first)
            data = _page(r, report)
            if data["more"] and data["cursor"] == params.get("cursor"):
                raise BadAnswer("the server gave the same page again and again (its cursor did not move)")
            if self._server_restored(data, report):
                restores += 1
                if restores > 1:   # two generations within one sync: not one restored server
                    raise BadAnswer("the server's store changed twice during one sync: is more than one "
                                    "server answering at this address?")
                continue  # offered again, cursor moved back: pull from there
            if data.get("reset"):
                self.replica.start_over()
                report.reset = True
            elif data["more"]:
                # The server makes the next page while this phone folds this one (their
                # two CPUs at once); used only if the fold leaves the cursor where it asked.
                nxt = {"limit": self.page, "acked": params["acked"], "cursor": data["cursor"]}
                ahead = _Ahead(self, "GET", PULL_PATH, params=nxt)
            acct = self.account() or {}
            try:   # one transaction: a page that cannot be folded leaves nothing behind
                report.pulled += self.replica.apply_pulled(
                    data["changes"], data["cursor"], data.get("exits") or [], data.get("refs") or {},
                    frozenset(acct.get("grids") or ()), erasures=data.get("erasures") or [],
                    household_exits=data.get("household_exits") or [])
                report.exits += len(data.get("exits") or []) + len(data.get("household_exits") or [])
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                raise BadAnswer(f"a page of the pull could not be kept ({type(e).__name__}: {str(e)[:200]});"
                                " nothing of it was kept, and the sync is tried again later") from e
            if isinstance(data.get("settings"), dict):  # the township's, which the phone follows
                text = json.dumps(data["settings"])
                # written when they changed: every page carries them, and each write of
                # its own is a commit with its fsync
                if text != self.replica.meta("township_settings"):
                    self.replica.set_meta("township_settings", text)
            if progress:
                progress({"phase": "pull", "pulled": report.pulled})
            if not data["more"]:
                self.replica.set_meta("last_sync_ms", str(clock.wall_ms()))
                if self.replica.seen_starting() and acct.get("username"):
                    # what the first sync since a fresh sign-in brought is where the person
                    # starts from, not 有更新 (sync/updates.py)
                    self.replica.take_starting_point(acct["username"], acct.get("role") or "")
                if params["acked"] == "" and self.replica.meta("catch_up"):
                    self.replica.set_meta("catch_up", None)   # its own changes came back
                if report.reset:
                    self._refresh_account()
                return report

    # --- after a restore: offer again what the server may lack -------------------------
    def _server_restored(self, data: dict, report: SyncReport) -> bool:
        """The server came back from a backup: its store has another generation than the
        one this phone last saw, or its log ends before this phone's cursor. Then every
        change kept as pushed (DeviceReplica.keep_pushed_ms) is offered again (the server
        answers "duplicate" for those it holds), and the cursor goes back to where the
        new generation began (to the start when the log went back without one)."""
        gen, head = data.get("generation"), data.get("head")
        if not isinstance(gen, str):
            return False  # a server from before generations
        rp = self.replica
        known = rp.meta("server_generation")
        seq_text, _, tag = (rp.cursor or "").partition(".")
        seq = int(seq_text) if seq_text.isdecimal() else 0
        behind = (isinstance(head, int) and head < seq) or data.get("lost") is True
        if known in (None, gen) and not behind:
            if known is None:
                rp.set_meta("server_generation", gen)
            return False
        report.recovered += self.reoffer(report)
        self._resend_attachments()
        since = data.get("generation_seq")
        start = min(seq, since) if known != gen and isinstance(since, int) else 0
        with rp.transaction():
            # the scope's tag alone (its first 8 hex digits): the row check and the
            # pass mark after it were of the old store's log
            rp.set_meta("cursor", f"{start}.{tag[:8]}" if start and tag else None)
            rp.set_meta("server_generation", gen)
            # what the old store said of cases leaving this person is not the restored
            # one's word: a held case stays, its own again, unless an exit comes anew
            rp.conn.execute("DELETE FROM held_exits")
        return True

    def _resend_attachments(self) -> None:
        """Attachments sent within the keeping time go back in line: the next upload asks
        the server what it holds (one small request each) and sends what it lacks."""
        from .attachments import Attachments
        store = Attachments.for_replica(self.replica)
        since = self.replica.clock.physical() - self.replica.keep_pushed_ms()   # as sent_ms is stamped
        with store._conn() as c:  # the upload queue (sync/attachments.py)
            c.execute("UPDATE queue SET state='waiting' WHERE state='sent' AND sent_ms >= ?", (since,))

    def reoffer(self, report: SyncReport | None = None) -> int:
        """Push every kept change again, marked as offered again (the office is told how
        many came back). Returns how many the server lacked and applied.

        A change the server took once and now refuses (the person moved to another grid
        meanwhile, a rule changed) goes back in the outbox, quarantined with the reason,
        ahead of what was written since: the person is told, and the record stays on the
        phone (a scope reset keeps what the outbox names) until it is sent or given up.
        One refused for naming a record the server lacks (another phone's, not offered
        again yet) goes back in line at each sync until it goes through or is given up
        (`retry_unknown`). A batch the server did not answer change by change is offered
        again at the next sync."""
        rp, after, applied, unanswered, refused = self.replica, -1, 0, 0, []
        while True:
            rows = rp.pushed(after, self.batch)
            if not rows:
                break
            body = ('{"changes":[' + ",".join(b for _, _, b in rows) + "]}").encode()
            r = self._request("POST", "/api/v1/sync/push", content=gzip.compress(body, 1),
                              headers={"Content-Encoding": "gzip", "Content-Type": "application/json",
                                       "X-Gridbook-Reoffer": "1"}, ok=(200, 403, 413, 422, 400))
            data = _json(r)
            results = data.get("results") if isinstance(data, dict) else None
            if isinstance(results, list) and len(results) == len(rows):
                applied += sum(res.get("status") == "applied" for res in results)
                refused += [(row[1], res.get("reason") or "refused", res.get("errors"))
                            for row, res in zip(rows, results) if res.get("status") == "rejected"]
            else:
                unanswered += len(rows)
            after = rows[-1][0]
        taken = rp.take_back_refused(refused)
        if report is not None:
            report.quarantined += taken
        rp.set_meta("reoffer_pending", "1" if unanswered else None)
        return applied

    # --- attachments (photos, voice notes): after the changes, never blocking them ------
    attachment_chunk = CHUNK_BYTES  # bytes per upload request: a cut link costs at most one

    def send_attachments(self, on_wifi: bool = True, progress: Callable[[dict], None] | None = None) -> dict:
        """Upload the photos and voice notes waiting in this phone's data folder, each
        resuming where the server's copy stopped (sync/attachments.py). Call it after
        `sync()`: the server takes bytes only for a hash a record it holds names. Returns
        the UploadReport as a dict; one file's refusal is recorded on it, not raised."""
        from .attachments import Attachments
        return Attachments.for_replica(self.replica).upload(self, on_wifi=on_wifi, progress=progress).as_dict()

    def fetch_attachment(self, attachment: dict | str, thumb: bool = False) -> str:
        """The local path of an attachment, downloaded the first time it is opened."""
        from .attachments import Attachments
        return Attachments.for_replica(self.replica).fetch(self, attachment, thumb=thumb)

    def blob_statuses(self, hashes: list[str]) -> dict | None:
        """{hash: how much of it the server holds ({"status": 200, "offset", "size",
        "complete"}) or why it takes none ({"status": 4xx, "error", "message"})}, for the
        whole queue in one round trip; None from a server without attachments."""
        r = self._request("POST", "/api/v1/blobs/status", json={"hashes": hashes}, ok=(200, 404, 405))
        data = _json(r) if r.status_code == 200 else None
        return data.get("blobs") if isinstance(data, dict) and isinstance(data.get("blobs"), dict) else None

    def blob_request(self, method: str, hash: str, suffix: str = "", **kw) -> httpx.Response:
        """One request of the attachment protocol (/api/v1/blobs/{hash}...): the answers
        the attachment queue reads (403, 404, 409, 413, 422) come back, not raised."""
        return self._request(method, f"/api/v1/blobs/{hash}{suffix}", ok=(200, 403, 404, 409, 413, 422), **kw)

    # --- transport ------------------------------------------------------------------
    def _headers(self) -> dict:
        h = {"X-Gridbook-Protocol": str(self.protocol),
             "X-Gridbook-Device": self.replica.device_id}
        token = self.replica.meta("token")
        if token:
            h["Authorization"] = f"Bearer {token}"
        return h

    def _request(self, method: str, path: str, *, ok=(200,), headers=None, first: tuple | None = None,
                 **kw) -> httpx.Response:
        """`first`: (response, when it arrived) of a first attempt already made (_Ahead)."""
        h = self._headers()
        h.update(headers or {})
        last = "no attempt made"
        for attempt in range(self.retries + 1):
            age_ms = 0
            if attempt == 0 and first is not None:
                r, arrived = first
                age_ms = int((time.monotonic() - arrived) * 1000)
            else:
                if attempt:
                    self.sleep(self.backoff_s * (2 ** (attempt - 1)) * (0.5 + random.random()))
                try:
                    r = self.fetch(method, self.server + path, headers=h, **kw)
                except httpx.TransportError as e:
                    last = f"cannot reach the server: {type(e).__name__}"
                    continue
            if r.status_code >= 500 or (r.status_code == 429 and "/auth/" not in path):
                data = _json(r)
                said = data if isinstance(data, dict) and isinstance(data.get("message"), str) else {}
                last = ServerTrouble(said.get("message") or f"the server failed with HTTP {r.status_code}",
                                     r.status_code, said.get("error") if isinstance(said.get("error"), str) else None)
                continue
            self._learn_time(r, age_ms)
            if r.status_code in ok:
                return r
            data = _json(r)
            msg = data.get("message") if isinstance(data, dict) else None
            msg = msg or f"HTTP {r.status_code}"
            if r.status_code == 401:
                raise AuthRequired(msg, 401)
            if r.status_code == 426 and isinstance(data, dict) and data.get("error") == "update_required":
                raise UpdateRequired(msg, 426)
            if r.status_code == 426:
                raise ProtocolMismatch(msg, 426)
            refused = Refused(msg, r.status_code)
            # a slowed sign-in says how long (the screen says it in the person's words)
            retry = data.get("retry_after_s") if isinstance(data, dict) else None
            refused.retry_after_s = retry if isinstance(retry, int) and not isinstance(retry, bool) else None
            raise refused
        raise last if isinstance(last, ServerTrouble) else Unreachable(last)

    def fetch(self, method: str, url: str, **kw) -> httpx.Response:
        """One request, its answer read whole within `deadline_s` (httpx.ReadTimeout
        past it, a transport error like any other)."""
        request = self.http.build_request(method, url, **kw)
        end = time.monotonic() + self.deadline_s
        r = self.http.send(request, stream=True)
        try:
            body = []
            for chunk in r.iter_bytes():   # decoded (gzip) as it comes
                body.append(chunk)
                if time.monotonic() > end:
                    raise httpx.ReadTimeout(f"the answer took over {self.deadline_s:g} s", request=request)
        finally:
            r.close()
        headers = [(k, v) for k, v in r.headers.multi_items() if k.lower() not in ("content-encoding", "content-length")]
        return httpx.Response(r.status_code, headers=headers, content=b"".join(body), request=request)

    def _learn_time(self, r: httpx.Response, age_ms: int = 0) -> None:
        """Keep the clock offset to the server, so a phone whose clock is wrong still
        stamps its changes with the township's time. `age_ms`: how long ago the answer
        arrived (a page asked for ahead), added to the time it gave."""
        t = r.headers.get(TIME_HEADER)
        if t and t.isdecimal():
            self.replica.learn_server_time(int(t) + age_ms)


class _Ahead:
    """A request made on a thread of its own while the caller works on: the next pull
    page while the phone folds one, a push while the phone makes the next batch ready.
    One attempt, the network alone (the headers are made here, on the caller's thread,
    and nothing touches the replica over there). Whatever went wrong with it, the caller
    asks again the usual way (`_request(first=...)`), retries and all."""

    def __init__(self, client: "SyncClient", method: str, path: str, headers: dict | None = None, **kw):
        self.params, self.headers = kw.get("params"), headers or {}   # asked again with the same
        self.done = threading.Event()
        self.got: tuple | None = None
        url = client.server + path
        sent = {**client._headers(), **self.headers}

        def fetch():
            try:
                r = client.fetch(method, url, headers=sent, **kw)
                self.got = (r, time.monotonic())
            except Exception:  # noqa: BLE001 - asked again by the caller, which reports it
                self.got = None
            finally:
                self.done.set()
        threading.Thread(target=fetch, name="gridbook-ahead", daemon=True).start()

    def take(self) -> tuple | None:
        """(the answer, when it arrived), or None if the attempt failed."""
        self.done.wait()
        return self.got


def _landed(rows: list, results: list) -> bool:
    """The server's answer holds every change of the batch as applied or a duplicate."""
    return len(results) == len(rows) and all(
        isinstance(res, dict) and res.get("status") in ("applied", "duplicate") for res in results)


def _rule_of(res) -> str | None:
    """The rule a refused change's first error names (a server's answer: any shape)."""
    errs = res.get("errors") if isinstance(res, dict) else None
    first = errs[0] if isinstance(errs, list) and errs else None
    return first.get("rule") if isinstance(first, dict) else None


def _push_body(rows: list) -> tuple[list, bytes]:
    """A batch of outbox rows and the request's body: the stored bodies spliced, gzipped."""
    if not rows:
        return rows, b""
    body = ('{"changes":[' + ",".join(b for _, b in rows) + "]}").encode()
    return rows, gzip.compress(body, PUSH_GZIP_LEVEL)


def _json(r: httpx.Response):
    try:
        return r.json()
    except ValueError:   # not JSON, or not text at all (UnicodeDecodeError is one)
        return None


def _not_ours(r: httpx.Response, what: str) -> str:
    kind = (r.headers.get("content-type") or "no type").split(";")[0][:40]
    return (f"the answer to the {what} (HTTP {r.status_code}, {kind}) is not the township server's: a Wi-Fi"
            " sign-in page or a proxy in the way? Nothing was changed; the sync is tried again later")


def _page(r: httpx.Response, report: SyncReport) -> dict:
    """A pull page as the township server writes it, or BadAnswer: a page that would make
    the phone store a cursor no server takes, or fail on every later pull, is refused
    whole before anything of it is kept. Changes of kinds this app does not know (a
    newer server's) are left out, and said."""
    from .model import ENTITIES
    data = _json(r)
    if not _page_shape(data):
        raise BadAnswer(_not_ours(r, "pull"))
    known = [ch for ch in data["changes"] if ch["entity"] in ENTITIES]
    if len(known) < len(data["changes"]):
        report.errors.append(f"{len(data['changes']) - len(known)} change(s) of a kind this app does not know"
                             " were left out: update the app to see them")
        data["changes"] = known
    return data


def _page_shape(data) -> bool:
    """Whether a pull page has the server's shape: its lists lists of ids, its references
    ids to references, its cursor one the server takes, each change an object of a kind."""
    if not (isinstance(data, dict) and isinstance(data.get("changes"), list) and isinstance(data.get("more"), bool)
            and isinstance(data.get("cursor"), str) and CURSOR_RE.fullmatch(data["cursor"])):
        return False
    lists = [data.get(key) or [] for key in ("exits", "household_exits", "erasures")]
    refs = data.get("refs") or {}
    return (all(isinstance(xs, list) and all(isinstance(x, str) for x in xs) for xs in lists)
            and isinstance(refs, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in refs.items())
            and all(isinstance(ch, dict) and isinstance(ch.get("entity"), str) for ch in data["changes"]))


__all__ = ["SyncClient", "SyncReport", "SyncError"]
