"""Who is calling, and may they: authentication (basic auth and tokens, or a trusted proxy's
identity header) and each experiment's permissions, for `tracker-report server --auth`.

* `--auth basic`: users and argon2 password hashes kept in the store (or a users file);
  MLflow's clients send MLFLOW_TRACKING_USERNAME/PASSWORD as basic auth and
  MLFLOW_TRACKING_TOKEN as a bearer token. A verified sign-in is remembered (by a hash of the
  credentials) until the user changes, so argon2's deliberate 0.1 s is paid once, not per
  request. Repeated failures lock the name, and the address, out for a while.
* `--auth proxy`: the identity an authenticating proxy puts in a header, believed only from
  the trusted proxy addresses (the connection's own peer; X-Forwarded-For is never taken as
  the peer). The same header from anywhere else is refused, never believed.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import ipaddress
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool

from reporter.core.access import AccessState, Identity
from reporter.core.errors import InvalidArgumentError, ReporterError
from reporter.core.permissions import Permission, get_permission
from reporter.store.access import AccessLog

MODES = ("none", "basic", "proxy")


class Unauthenticated(ReporterError):
    error_code = "UNAUTHENTICATED"


class PermissionDenied(ReporterError):
    error_code = "PERMISSION_DENIED"


@dataclass
class AuthOptions:
    """What `tracker-report server --auth ...` was asked for."""

    mode: str = "none"
    trusted_proxies: list[str] = field(default_factory=list)  # CIDRs (proxy mode)
    user_header: str = "X-Forwarded-Email"
    groups_header: str | None = None
    admin_groups: list[str] = field(default_factory=list)
    default_permission: str = "READ"
    users_file: str | None = None
    refresh_seconds: float = 1.0  # how stale another process's user or grant change may be
    max_failures: int = 5  # failed sign-ins of a name (4 times as many of an address) ...
    failure_window: float = 60.0  # ... within this many seconds lock it out ...
    lockout_seconds: float = 60.0  # ... for this long

    def check(self) -> None:
        if self.mode not in MODES:
            raise InvalidArgumentError(f"Invalid --auth {self.mode!r}; valid: {', '.join(MODES)}")
        get_permission(self.default_permission)
        for cidr in self.trusted_proxies:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise InvalidArgumentError(
                    f"Invalid --trusted-proxy {cidr!r}: give an address or a network such as "
                    "127.0.0.1/32 or 10.0.0.0/8"
                ) from None
        if self.mode == "proxy" and not self.trusted_proxies:
            raise InvalidArgumentError(
                "--auth proxy needs --trusted-proxy ADDRESS[/BITS]: the proxy whose identity "
                "header the server may believe"
            )


class Access:
    """A process's view of the users and grants, reloaded at most every refresh_seconds
    (at once after a change this process made)."""

    def __init__(
        self,
        log: AccessLog,
        default: Permission,
        refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = log
        self.default = default
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._state = AccessState(default)
        self._changes: list[dict[str, object]] = []
        self._loaded_at: float | None = None  # when the read of the installed state began
        self.generation = 0  # of the installed state: what was remembered from it names it

    def state(self) -> AccessState:
        """Return the state as last loaded. Never reads storage (it is called on the event
        loop): each request's `Authenticator.identify` reloads a stale state first, in the
        thread pool, so what a request sees is at most refresh_seconds old."""
        if self._loaded_at is None:
            self.reload()
        return self._state

    def stale(self) -> bool:
        return self._loaded_at is None or self.clock() - self._loaded_at >= self.refresh_seconds

    def reload(self) -> AccessState:
        """Read the changes again. The state stays the same object while they are the same, so
        what was worked out from it (verified sign-ins, permissions) stays valid; and a read
        that finishes after a newer one (reloads run on several threads) is dropped: change
        records are only ever added, so the read with more of them is the newer."""
        started = self.clock()
        changes = self.log.changes()
        with self._lock:
            loaded = self._loaded_at is not None
            if loaded and (len(changes) < len(self._changes) or changes == self._changes):
                if changes == self._changes:
                    self._loaded_at = max(self._loaded_at or started, started)
                return self._state
            state = AccessState.replay(changes, self.default)
            self.generation += 1
            state.generation = self.generation
            self._state, self._changes, self._loaded_at = state, changes, started
            return state

    def publish(self, change: dict[str, object]) -> None:
        """Record a change (durable), then see it at once."""
        self.log.publish(dict(change))
        self.reload()


class Lockout:
    """Counts failed sign-ins per key in a window; a key with too many is locked out for
    lockout_seconds. Keys are names (hashed: a long name costs no memory) and client
    addresses, in a bounded table that evicts the oldest first. Evicting a count needs 50,000
    newer failures, each of which costs the server's argon2 check, and never lifts a lock."""

    MAX_ADDRESSES = 50_000

    def __init__(self, options: AuthOptions, clock: Callable[[], float] = time.monotonic) -> None:
        from collections import OrderedDict

        self.options = options
        self.clock = clock
        self._failures: OrderedDict[str, list[float]] = OrderedDict()
        self._locked: dict[str, float] = {}
        self._lock = threading.Lock()

    def locked_for(self, *keys: str) -> float:
        """Return how many seconds the longest lock of these keys has left (0: none)."""
        if not self._locked:  # nothing is locked (the usual case): no clock, no lock
            return 0.0
        now = self.clock()
        with self._lock:
            left = 0.0
            for key in keys:
                until = self._locked.get(key)
                if until is not None and until <= now:
                    del self._locked[key]
                elif until is not None:
                    left = max(left, until - now)
        return left

    def failed(self, *keys: str) -> None:
        now = self.clock()
        window = self.options.failure_window
        with self._lock:
            for key in keys:
                recent = [t for t in self._failures.pop(key, []) if now - t < window]
                recent.append(now)
                self._failures[key] = recent  # to the end: the newest
                limit = self.options.max_failures * (4 if key.startswith("address:") else 1)
                if len(recent) >= limit:
                    self._locked[key] = now + self.options.lockout_seconds
                    del self._failures[key]
            while len(self._failures) > self.MAX_ADDRESSES:
                self._failures.popitem(last=False)
            if len(self._locked) > self.MAX_ADDRESSES:  # only expired locks are dropped
                for key in [k for k, until in self._locked.items() if until <= now]:
                    del self._locked[key]

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


class Authenticator:
    """Establishes a request's Identity, or raises Unauthenticated."""

    def __init__(
        self, options: AuthOptions, access: Access, clock: Callable[[], float] = time.monotonic
    ) -> None:
        options.check()
        self.options = options
        self.access = access
        self.lockout = Lockout(options, clock)
        self._networks = [ipaddress.ip_network(c, strict=False) for c in options.trusted_proxies]
        self._user_header = options.user_header.lower().encode("latin-1")
        self._groups_header = (
            options.groups_header.lower().encode("latin-1") if options.groups_header else None
        )
        # sha256(credentials) -> (user, the password hash they were checked against)
        self._verified: dict[str, tuple[str, str]] = {}
        # the Identity a request's exact credentials (or proxy headers) and address had under
        # the current state (the same generation while nothing changed), so a client's
        # requests after its first cost a lookup: key -> (generation, identity, lockout key)
        self._recent: dict[tuple[object, ...], tuple[int, Identity, str]] = {}
        self._trusted: dict[str, bool] = {}

    @property
    def enabled(self) -> bool:
        return self.options.mode != "none"

    def ambiguous(self, raw_headers: list[tuple[bytes, bytes]]) -> bool:
        """Return True if an identity-bearing header (Authorization, or the proxy's user or
        groups header) appears more than once: which one to believe would be a guess."""
        names = [n.lower() for n, _ in raw_headers]
        watched = [b"authorization", self._user_header]
        if self._groups_header is not None:
            watched.append(self._groups_header)
        return any(names.count(w) > 1 for w in watched)

    def trusted(self, peer: str) -> bool:
        known = self._trusted.get(peer)
        if known is not None:
            return known
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        found = any(address in network for network in self._networks)
        if len(peer) <= 64:  # an address (a scoped IPv6 one may be longer: not kept)
            if len(self._trusted) >= self.RECENT:
                self._trusted.clear()
            self._trusted[peer] = found
        return found

    def client_address(self, headers: dict[bytes, bytes], peer: str) -> str:
        """Return where a request comes from: the peer, or behind a trusted proxy the last
        address the proxies' X-Forwarded-For chain names that is not itself a trusted proxy
        (an address a client wrote into the header itself is never taken)."""
        if not self.trusted(peer):
            return peer
        chain = [
            a.strip() for a in headers.get(b"x-forwarded-for", b"").decode("latin-1").split(",")
        ]
        for address in reversed([a for a in chain if a]):
            if not self.trusted(address):
                return address
        return peer

    def remembered(self, headers: dict[bytes, bytes], peer: str) -> Identity | None:
        """Return the caller if the same credentials (or proxy headers) from the same address
        were established under the current state (None: `identify` must find out)."""
        if self.access.stale():
            return None
        generation = self.access.state().generation
        if self.options.mode == "proxy":
            recent = self._recent.get(self._proxy_key(headers, peer))
            return recent[1] if recent is not None and recent[0] == generation else None
        address = self.client_address(headers, peer)
        recent = self._recent.get((headers.get(b"authorization", b""), address))
        if recent is None or recent[0] != generation:
            return None
        _, who, name_key = recent
        return who if not name_key or not self.lockout.locked_for(name_key) else None

    def _proxy_key(self, headers: dict[bytes, bytes], peer: str) -> tuple[object, ...]:
        """What decides a proxy-mode identity: the headers the proxy sent, and which proxy."""
        return (
            headers.get(self._user_header),
            headers.get(self._groups_header) if self._groups_header else None,
            headers.get(b"x-forwarded-for"),
            peer,
        )

    async def identify(self, headers: dict[bytes, bytes], peer: str) -> Identity:
        """Return who is calling (headers: lower-cased names, the last value of each)."""
        who = self.remembered(headers, peer)
        if who is not None:
            return who
        if self.access.stale():
            await run_in_threadpool(self.access.reload)
        state = self.access.state()
        if self.options.mode == "proxy":
            who = self._from_proxy(state, headers, peer)
            self._remember(self._proxy_key(headers, peer), state, who, "")
            return who
        address = self.client_address(headers, peer)
        raw = headers.get(b"authorization", b"")
        who, name_key = await self._check_credentials(state, raw, address)
        self._remember((raw, address), state, who, name_key)
        return who

    def _remember(
        self, key: tuple[object, ...], state: AccessState, who: Identity, name: str
    ) -> None:
        """Keep an established identity for its exact request headers and state (small keys
        only, at most RECENT of them)."""
        if sum(len(k) for k in key if isinstance(k, (bytes, str))) <= 2048:
            if len(self._recent) >= self.RECENT:
                self._recent.clear()
            self._recent[key] = (state.generation, who, name)

    def _from_proxy(self, state: AccessState, headers: dict[bytes, bytes], peer: str) -> Identity:
        claimed = headers.get(self._user_header)
        if not self.trusted(peer):
            what = "an identity header" if claimed is not None else "no identity"
            raise Unauthenticated(
                f"Refused: {what} from {peer}, which is not a trusted proxy of this server "
                f"(tracker-report server --trusted-proxy). Sign in through the proxy."
            )
        try:
            user = claimed.decode("utf-8").strip() if claimed else ""
        except UnicodeDecodeError:
            raise Unauthenticated(f"The {self.options.user_header} header is not UTF-8") from None
        if not user:
            raise Unauthenticated(
                f"The proxy at {peer} sent no {self.options.user_header} header: the server "
                "cannot tell who is calling"
            )
        groups: tuple[str, ...] = ()
        if self._groups_header is not None and self._groups_header in headers:
            raw = headers[self._groups_header].decode("utf-8", errors="replace")
            groups = tuple(g.strip() for g in raw.split(",") if g.strip())
        known = state.users.get(user)
        admin = bool(known and known.admin) or any(g in self.options.admin_groups for g in groups)
        return Identity(user, groups, admin, self.client_address(headers, peer))

    RECENT = 10_000  # credentials (and peers) remembered

    async def _check_credentials(
        self, state: AccessState, raw: bytes, address: str
    ) -> tuple[Identity, str]:
        """Return the caller and the lockout key of their name ("" for a token)."""
        if len(raw) > MAX_CREDENTIALS:
            raise Unauthenticated(f"The Authorization header is over {MAX_CREDENTIALS} bytes")
        scheme, _, value = raw.decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            # tokens are 256 random bits: guessing one is hopeless, so no lockout is needed,
            # and no one's failures can lock a valid token out
            user = state.user_of_token(value.strip())
            if user is None:
                raise Unauthenticated("The token is not valid (revoked, or never issued)")
            return Identity(user.name, (), user.admin, address), ""
        if scheme.lower() != "basic" or not value.strip():
            raise Unauthenticated(
                "You are not authenticated: send a user name and password (basic auth; MLflow's "
                "clients read MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD) or a token "
                "(MLFLOW_TRACKING_TOKEN)"
            )
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("The Authorization header is not valid basic auth") from None
        name, sep, password = decoded.partition(":")
        if not sep:
            raise Unauthenticated("The Authorization header is not valid basic auth")
        user = state.users.get(name)
        # every name is counted, existing or not (the answers must not tell them apart); by
        # a hash, so a long name costs no memory
        name_key = "user:" + hashlib.sha256(name.encode()).hexdigest()[:24]
        address_key = f"address:{address}"
        keys = [address_key, name_key]
        wait = self.lockout.locked_for(name_key)  # a locked name is refused, whatever is sent
        if wait:
            raise self._locked(wait)
        digest = hashlib.sha256(f"{name}\0{password}".encode()).hexdigest()
        cached = self._verified.get(digest)
        if user is not None and user.password_hash and cached == (user.name, user.password_hash):
            # verified before: not a guess, so a locked address (a NAT, a proxy without
            # --trusted-proxy) does not lock out users who signed in already
            return Identity(user.name, (), user.admin, address), name_key
        wait = self.lockout.locked_for(address_key)
        if wait:
            self.lockout.failed(name_key)  # a guess from a locked address still counts
            raise self._locked(wait)
        # an unknown name costs the same argon2 check as a known one (no timing tells them apart)
        known_hash = user.password_hash if user is not None else None
        ok = await run_in_threadpool(_verify, known_hash or _dummy_hash(), password)
        if not ok or user is None or known_hash is None:
            self.lockout.failed(*keys)
            raise Unauthenticated("Wrong user name or password")
        if len(self._verified) > 10_000:
            self._verified.clear()
        self._verified[digest] = (user.name, known_hash)
        self.lockout.succeeded(name_key)
        return Identity(user.name, (), user.admin, address), name_key

    @staticmethod
    def _locked(wait: float) -> Unauthenticated:
        return Unauthenticated(
            f"Too many failed sign-ins: locked out for {int(wait) + 1} more seconds"
        )


MAX_CREDENTIALS = 8192  # bytes of an Authorization header


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash of a random password, checked for unknown names (made on first use)."""
    from reporter.core.access import hash_password

    return hash_password(secrets.token_hex(16))


def _verify(password_hash: str, password: str) -> bool:
    from reporter.core.access import verify_password

    return verify_password(password_hash, password)
