"""The sandbox's whole state, in memory: orgs, users, prospects, calls, OAuth grants, limits, the
clock, injected faults, held requests and the request log. One lock (Store.lock) guards all of
it; the HTTP layer holds it for the length of a request, except while a 'hang' fault sleeps or a
'hold' fault waits to be released."""

from __future__ import annotations

import itertools
import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from .options import SandboxOptions


def normalize_number(number: str) -> str:
    """E.164 digits: everything but digits dropped, a leading '+' kept."""
    stripped = number.strip()
    return ("+" if stripped.startswith("+") else "") + re.sub(r"\D", "", stripped)


@dataclass
class Org:
    guid: str
    name: str
    created_at: datetime


@dataclass
class User:
    id: int
    org_guid: str
    email: str
    first_name: str
    last_name: str
    created_at: datetime

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass
class Prospect:
    id: int
    org_guid: str
    first_name: str
    last_name: str
    emails: list[str]
    created_at: datetime


@dataclass
class PhoneNumber:
    id: int
    prospect_id: int
    number: str
    phone_type: str
    created_at: datetime
    extension: str | None = None  # dialled after the call connects (000 "Phone extension")


@dataclass
class CallEvent:
    """One PATCH that reached a call, accepted or refused, for the control view's history."""

    at: datetime
    request_index: int
    attributes: dict[str, Any]
    outcome: str  # "accepted", "unchanged" or "refused"
    state_before: str | None
    state_after: str | None
    rule: str | None = None
    detail: str | None = None


@dataclass
class Call:
    id: int | str
    org_guid: str
    user_id: int
    prospect_id: int | None
    direction: str
    external_vendor: str | None
    from_number: str | None
    to_number: str | None
    vendor_call_id: str | None
    note: str | None
    state: str | None
    state_changed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    recording_url: str | None = None
    voicemail_url: str | None = None
    # Outbound calls only: when the Outreach client launched the dial, and when "initiated" came.
    launched_at: datetime | None = None
    initiated_at: datetime | None = None
    history: list[CallEvent] = field(default_factory=list)
    # Logged calls only (003): what happened, and the call task they were logged against.
    outcome: str | None = None
    answered_at: datetime | None = None
    completed_at: datetime | None = None
    dialed_at: datetime | None = None
    task_id: int | None = None


@dataclass
class Task:
    """A task of a user about a prospect (003 "Discover Open Tasks"); only what logging a call
    against an open call task needs."""

    id: int
    org_guid: str
    owner_id: int
    prospect_id: int | None
    action: str  # "action_item", "call", "email" or "in_person"
    state: str  # "pending", "incomplete" or "complete"
    created_at: datetime


@dataclass
class AccessToken:
    token: str
    user_id: int
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime
    revoked: bool = False


@dataclass
class RefreshToken:
    token: str
    user_id: int
    scopes: tuple[str, ...]
    issued_at: datetime
    revoked: bool = False


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    user_id: int
    scopes: tuple[str, ...]
    created_at: datetime
    used: bool = False


@dataclass
class Fault:
    kind: str  # "error", "rate_limit" (429), "hang" or "hold"
    remaining: int
    path_prefix: str = ""
    retry_after: int = 1
    # hang: how long it sleeps; hold: the most it waits for a release, so nothing waits forever.
    seconds: float = 0.0
    then_error: bool = False  # after hanging or holding: answer 500 instead of normally
    status: int = 500  # error: the answer's status, and its JSON body (None: a JSON:API error)
    body: Any = None


@dataclass(eq=False)  # each is itself: two alike requests held at once are still two
class HeldRequest:
    """A request a 'hold' fault stopped before it was applied. Its thread waits on `released`
    without the store's lock; the control API sets it (release, clear, reset)."""

    method: str
    path: str
    client_port: int  # which connection it came on: tests find the process waiting for it
    held_at: datetime
    released: threading.Event = field(default_factory=threading.Event)
    then_error: bool = False


@dataclass
class Limits:
    access_token_lifetime: int
    refresh_token_lifetime: int
    mint_window: int
    rate_limit_per_hour: int


@dataclass
class RateWindow:
    started_at: datetime
    count: int = 0


# Doorkeeper's default, which Outreach's OAuth server appears to run: codes live ten minutes.
CODE_LIFETIME = timedelta(minutes=10)
RATE_WINDOW = timedelta(hours=1)


class Store:
    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self.lock = threading.Lock()
        self.held: list[HeldRequest] = []
        self.reset()

    def reset(self) -> None:
        self.release_held()  # else their threads would wait out their maximum
        # Requests still hanging from before a reset belong to a world that is gone: they are
        # answered 503 and not logged, so a test never reads another test's late request.
        self.generation = getattr(self, "generation", 0) + 1
        self.clock_offset = 0.0
        self.limits = Limits(
            access_token_lifetime=self.options.access_token_lifetime,
            refresh_token_lifetime=self.options.refresh_token_lifetime,
            mint_window=self.options.mint_window,
            rate_limit_per_hour=self.options.rate_limit_per_hour,
        )
        self.orgs: dict[str, Org] = {}
        self.users: dict[int, User] = {}
        self.prospects: dict[int, Prospect] = {}
        self.phone_numbers: dict[int, PhoneNumber] = {}
        self.calls: dict[str, Call] = {}  # keyed by str(id): ids are opaque strings in URLs
        self.tasks: dict[int, Task] = {}
        # Which words a logged call's outcome must use (rules.OUTCOME_VOCABULARIES).
        self.outcome_vocabulary = self.options.outcome_vocabulary
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.last_mint: dict[int, datetime] = {}
        self.rate_windows: dict[int, RateWindow] = {}
        self.faults: list[Fault] = []
        self.requests: list[dict[str, Any]] = []
        self._user_ids = itertools.count(1)
        self._prospect_ids = itertools.count(1)
        self._phone_number_ids = itertools.count(1)
        self._call_ids = itertools.count(1)
        self._task_ids = itertools.count(1)
        self.default_org = self.add_org(name="Sandbox Org")

    # The clock -----------------------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset)

    # Directory -----------------------------------------------------------------------------

    def add_org(self, *, name: str, guid: str | None = None) -> Org:
        org = Org(guid=guid or str(uuid.uuid4()), name=name, created_at=self.now())
        self.orgs[org.guid] = org
        return org

    def add_user(self, *, email: str, first_name: str, last_name: str, org_guid: str) -> User:
        user = User(
            id=next(self._user_ids),
            org_guid=org_guid,
            email=email,
            first_name=first_name,
            last_name=last_name,
            created_at=self.now(),
        )
        self.users[user.id] = user
        return user

    def user_by_email(self, email: str) -> User | None:
        return next((u for u in self.users.values() if u.email.lower() == email.lower()), None)

    def add_prospect(
        self,
        *,
        org_guid: str,
        first_name: str,
        last_name: str,
        emails: list[str],
        phone_numbers: list[tuple[str, str, str | None]],
    ) -> Prospect:
        prospect = Prospect(
            id=next(self._prospect_ids),
            org_guid=org_guid,
            first_name=first_name,
            last_name=last_name,
            emails=emails,
            created_at=self.now(),
        )
        self.prospects[prospect.id] = prospect
        for number, phone_type, extension in phone_numbers:
            phone = PhoneNumber(
                id=next(self._phone_number_ids),
                prospect_id=prospect.id,
                number=number,
                phone_type=phone_type,
                created_at=self.now(),
                extension=extension,
            )
            self.phone_numbers[phone.id] = phone
        return prospect

    def phone_numbers_of(self, prospect_id: int) -> list[PhoneNumber]:
        return [p for p in self.phone_numbers.values() if p.prospect_id == prospect_id]

    def org_of_phone_number(self, phone: PhoneNumber) -> str:
        return self.prospects[phone.prospect_id].org_guid

    # Calls ---------------------------------------------------------------------------------

    def add_call(self, call: Call) -> Call:
        self.calls[str(call.id)] = call
        return call

    def next_call_id(self) -> int:
        return next(self._call_ids)

    def add_task(
        self, *, org_guid: str, owner_id: int, prospect_id: int | None, action: str, state: str
    ) -> Task:
        task = Task(
            id=next(self._task_ids),
            org_guid=org_guid,
            owner_id=owner_id,
            prospect_id=prospect_id,
            action=action,
            state=state,
            created_at=self.now(),
        )
        self.tasks[task.id] = task
        return task

    # OAuth ---------------------------------------------------------------------------------

    def add_code(
        self, *, client_id: str, redirect_uri: str, user_id: int, scopes: tuple[str, ...]
    ) -> AuthorizationCode:
        code = AuthorizationCode(
            code=secrets.token_urlsafe(24),
            client_id=client_id,
            redirect_uri=redirect_uri,
            user_id=user_id,
            scopes=scopes,
            created_at=self.now(),
        )
        self.codes[code.code] = code
        return code

    def mint_retry_after(self, user_id: int) -> int | None:
        """Seconds until this user may be given another access token, or None if now."""
        last = self.last_mint.get(user_id)
        window = self.limits.mint_window
        if window <= 0 or last is None:
            return None
        wait = (last + timedelta(seconds=window) - self.now()).total_seconds()
        return max(1, int(wait + 0.999)) if wait > 0 else None

    def mint_tokens(
        self, *, user_id: int, scopes: tuple[str, ...], count_as_mint: bool = True
    ) -> tuple[AccessToken, RefreshToken]:
        now = self.now()
        access = AccessToken(
            token=secrets.token_urlsafe(32),
            user_id=user_id,
            scopes=scopes,
            created_at=now,
            expires_at=now + timedelta(seconds=self.limits.access_token_lifetime),
        )
        refresh = RefreshToken(
            token=secrets.token_urlsafe(32), user_id=user_id, scopes=scopes, issued_at=now
        )
        self.access_tokens[access.token] = access
        self.refresh_tokens[refresh.token] = refresh
        if count_as_mint:
            self.last_mint[user_id] = now
        return access, refresh

    def refresh_token_expired(self, refresh: RefreshToken) -> bool:
        lifetime = timedelta(seconds=self.limits.refresh_token_lifetime)
        return self.now() >= refresh.issued_at + lifetime

    def expire_tokens_of(self, user_id: int) -> int:
        now = self.now()
        tokens = [t for t in self.access_tokens.values() if t.user_id == user_id]
        for token in tokens:
            token.expires_at = min(token.expires_at, now)
        return len(tokens)

    def revoke_tokens_of(self, user_id: int) -> int:
        revoked = 0
        grants: list[AccessToken | RefreshToken] = [
            *self.access_tokens.values(),
            *self.refresh_tokens.values(),
        ]
        for grant in grants:
            if grant.user_id == user_id and not grant.revoked:
                grant.revoked = True
                revoked += 1
        return revoked

    # Rate limit ----------------------------------------------------------------------------

    def count_request(self, user_id: int) -> tuple[RateWindow, bool]:
        """Counts one API request for the user; answers its window and whether it is allowed."""
        now = self.now()
        window = self.rate_windows.get(user_id)
        if window is None or now >= window.started_at + RATE_WINDOW:
            window = self.rate_windows[user_id] = RateWindow(started_at=now)
        if window.count >= self.limits.rate_limit_per_hour:
            return window, False
        window.count += 1
        return window, True

    # Faults --------------------------------------------------------------------------------

    def take_fault(self, path: str) -> Fault | None:
        """The first pending fault for this path, consuming one of its requests."""
        for fault in self.faults:
            if path.startswith(fault.path_prefix):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.faults.remove(fault)
                return replace(fault)
        return None

    def hold(self, *, method: str, path: str, client_port: int) -> HeldRequest:
        held = HeldRequest(method=method, path=path, client_port=client_port, held_at=self.now())
        self.held.append(held)
        return held

    def release_held(self, *, then_error: bool = False) -> int:
        """Lets every held request go on (to be answered normally, or 500); answers how many."""
        released, self.held = self.held, []
        for held in released:
            held.then_error = then_error
            held.released.set()
        return len(released)

    def forget_held(self, held: HeldRequest) -> None:
        """Once its thread goes on; released ones are gone already, the rest waited too long."""
        if held in self.held:
            self.held.remove(held)
