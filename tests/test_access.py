"""The access model (users, grants, how permissions resolve), where it is kept (the store, a
users file), and the audit trail's files: merging, duplicates after a kill, damaged lines."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from reporter.core.access import REGISTERED_MODEL, AccessState, Identity
from reporter.core.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from reporter.core.permissions import DENY, EDIT, MANAGE, NO_PERMISSIONS, READ
from reporter.store.access import FileAccessLog, StoreAccessLog
from reporter.store.parquet import audit
from reporter.store.parquet.fs import StoreFS
from reporter.store.registry import open_store
from tests.cli import run_cli


def state_of(*changes: dict[str, object], default: object = READ) -> AccessState:
    return AccessState.replay(changes, default)  # type: ignore[arg-type]


def grant(who: str, experiment: str, permission: str) -> dict[str, object]:
    return {"op": "grant", "who": who, "experiment": experiment, "permission": permission}


def test_permissions_resolve_as_mlflows_basic_auth() -> None:
    state = state_of(
        grant("user:ann", "vision-*", "EDIT"),
        grant("group:ml", "vision-*", "MANAGE"),
        grant("group:ml", "nlp-*", "READ"),
        grant("group:guests", "nlp-*", "DENY"),
        grant("user:ann", "id:7", "NO_PERMISSIONS"),
    )
    ann = Identity("ann", ("ml",))
    assert state.permission(ann, "1", "vision-cats") is EDIT  # her own grant before her group's
    assert state.permission(ann, "2", "nlp-qa") is READ  # her group's
    assert state.permission(ann, "3", "other") is READ  # the default
    assert state.permission(ann, "7", "vision-dogs") is EDIT  # the strongest of her own
    both = Identity("bo", ("ml", "guests"))
    assert state.permission(both, "2", "nlp-qa") is DENY  # a DENY among the groups wins
    assert state.permission(Identity("root", admin=True), "2", "nlp-qa") is MANAGE
    denied = state_of(grant("user:ann", "vision-*", "DENY"), grant("user:ann", "id:1", "MANAGE"))
    assert denied.permission(ann, "1", "vision-cats") is DENY
    assert state_of(default=NO_PERMISSIONS).permission(ann, "1", "x") is NO_PERMISSIONS
    # a group's DENY wins over the user's own grants too (their creator MANAGE included)
    banned = state_of(grant("user:eve", "id:1", "MANAGE"), grant("group:banned", "*", "DENY"))
    assert banned.permission(Identity("eve", ("banned",)), "1", "x") is DENY


def test_registered_model_grants_resolve_by_name_and_take_glob_characters_literally() -> None:
    state = state_of(
        {"op": "grant", "who": "group:risk", "registered_model": "churn*", "permission": "EDIT"},
        {"op": "grant", "who": "user:bob", "registered_model": "churn[[]1]", "permission": "DENY"},
        {"op": "grant", "who": "user:bob", "experiment": "churn*", "permission": "MANAGE"},
    )
    bob = Identity("bob", ("risk",))
    assert state.model_permission(bob, "churn-v2") is EDIT
    assert (
        state.model_permission(bob, "churn[1]") is DENY
        and state.model_permission(bob, "churn1") is EDIT
    )
    assert state.model_permission(Identity("ann"), "churn") is READ  # the default
    assert state.permission(bob, "3", "churn") is MANAGE  # experiments' grants are apart


def test_a_model_grant_made_on_the_old_name_after_a_rename_or_delete_stays() -> None:
    """A rename's moves are worked out before it: when the name's next owner is granted in
    between, their grant is neither moved nor revoked (each revoke names its grant)."""
    publish: list[dict[str, object]] = []

    def apply(state: AccessState, *changes: dict[str, object]) -> AccessState:
        publish.extend({**c, "time": len(publish)} for c in changes)
        return state_of(*publish)

    state = apply(state_of(), {"op": "grant", "who": "user:bob", "registered_model": "rx",
                               "permission": "MANAGE"})  # fmt: skip
    moves = state.follow_rename("rx", "ry")  # before the rename
    state = apply(
        state, state.grant("user:alice", "rx", "MANAGE", REGISTERED_MODEL)
    )  # alice made a new rx
    state = apply(state, *moves)
    alice, bob = Identity("alice"), Identity("bob")
    assert (
        state.model_permission(alice, "rx") is MANAGE and state.model_permission(bob, "rx") is READ
    )
    assert (
        state.model_permission(bob, "ry") is MANAGE and state.model_permission(alice, "ry") is READ
    )
    drops = state.forget_model("ry")  # before the delete
    state = apply(
        state, state.grant("user:bob", "ry", "EDIT", REGISTERED_MODEL)
    )  # a new ry, granted again
    state = apply(state, *drops)
    assert state.model_permission(bob, "ry") is EDIT


def test_changes_are_checked_before_they_are_written() -> None:
    state = state_of({"op": "user.add", "user": "ann", "password_hash": None})
    with pytest.raises(AlreadyExistsError):
        state.add_user("ann", "pw")
    with pytest.raises(NotFoundError):
        state.set_password("nobody", "pw")
    for bad in ("", "a:b", " ann", "x" * 300, "ann\n"):
        with pytest.raises(InvalidArgumentError):
            state.add_user(bad, "pw")
    with pytest.raises(InvalidArgumentError):
        state.grant("ann", "x", "READ")  # user:NAME or group:NAME
    with pytest.raises(InvalidArgumentError):
        state.grant("user:ann", "x", "WRITE")
    with pytest.raises(InvalidArgumentError):
        state.grant("user:ann", "id:abc", "READ")
    with pytest.raises(NotFoundError):
        state.revoke("user:ann", "never-granted")


def test_a_replay_skips_what_no_longer_applies() -> None:
    state = state_of(
        {"op": "user.add", "user": "ann", "password_hash": "h1"},
        {"op": "user.add", "user": "ann", "password_hash": "h2"},  # a racing second add
        {"op": "user.password", "user": "ghost", "password_hash": "x"},
        grant("user:ann", "x", "SUPERUSER"),
        {"op": "no-such-op"},
        {"op": "user.remove", "user": "ann"},
        {"op": "user.add", "user": "ann", "password_hash": "h3"},
    )
    assert state.users["ann"].password_hash == "h3" and not state.grants


def test_a_removed_and_readded_user_is_not_the_same_sign_in() -> None:
    first = state_of({"op": "user.add", "user": "ann", "password_hash": "h1"})
    again = state_of(
        {"op": "user.add", "user": "ann", "password_hash": "h1"},
        {"op": "user.remove", "user": "ann"},
        {"op": "user.add", "user": "ann", "password_hash": "h2"},
    )
    assert first.users["ann"].version != again.users["ann"].version


def test_passwords_are_argon2_hashes_and_tokens_are_stored_hashed() -> None:
    state = AccessState()
    change = state.add_user("ann", "s3cret pass")
    assert change["password_hash"].startswith("$argon2id$")
    assert "s3cret" not in json.dumps(change)
    state.apply(change)
    token_change, token = state.add_token("ann")
    assert token not in json.dumps(token_change)
    state.apply(token_change)
    assert state.user_of_token(token) is state.users["ann"]
    assert state.user_of_token(token + "x") is None


def _append(path: str, index: int) -> None:
    for i in range(25):
        FileAccessLog(path).publish(grant(f"user:u{index}", f"e{i}", "READ"))


def test_a_users_file_keeps_every_line_of_processes_appending_at_once(tmp_path: Path) -> None:
    path = tmp_path / "users.jsonl"
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_append, args=(str(path), i)) for i in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    assert [p.exitcode for p in procs] == [0] * 4
    with open(path, "a") as handle:
        handle.write('{"op": "grant", "who": "user:cut')  # a crash mid-line
    FileAccessLog(path).publish(grant("user:after", "x", "EDIT"))
    state = AccessState.replay(FileAccessLog(path).changes())
    assert len(state.grants) == 4 * 25 + 1
    assert ("user:after", "x") in state.grants


def test_users_and_grants_live_in_the_store_or_the_named_file(tmp_path: Path) -> None:
    store = tmp_path / "store"
    users = tmp_path / "elsewhere" / "users.jsonl"
    result = run_cli("users", "add", "ann", "--no-password", "--store", str(store),
                     "--users-file", str(users))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "ann" in AccessState.replay(FileAccessLog(users).changes()).users
    assert not StoreAccessLog(open_store(str(store))).changes()
    result = run_cli("users", "list", "--store", str(store), "--users-file", str(users))
    assert "ann" in result.stdout and "argon2" not in result.stdout


@pytest.mark.parametrize("kind", ["folder", "s3"])
def test_the_audit_trail_keeps_each_record_once(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A folder store appends to a file per writer and day; an object store publishes a file
    per commit and merges a writer's files by tiers. Either way a reader takes every record
    once: after a kill cut a line short, and after a kill between a merge and its deletes."""
    if kind == "s3":
        from tests.conftest import new_bucket

        endpoint = request.getfixturevalue("s3_endpoint")
        monkeypatch = request.getfixturevalue("monkeypatch")
        fs = StoreFS(f"s3://{new_bucket(endpoint, monkeypatch)}/store")
    else:
        fs = StoreFS(str(tmp_path))
    writer = audit.AuditWriter(fs)
    records = [
        {"id": f"r{i:04d}", "time": 1_796_000_000_000 + i, "user": "ann", "action": "x"}
        for i in range(audit.MERGE_FILES * 2 + 3)
    ]
    for record in records[:-1]:
        writer.append([record])
    files = [f.path for f in fs.list_files(audit.AUDIT_FOLDER)]
    assert len(files) <= audit.MERGE_FILES  # a file per writer and day, or merged by tiers
    day = files[0].rsplit("/", 2)[-2]
    if kind == "folder":  # a kill in the middle of an append
        with open(fs.full(files[0]), "a") as handle:
            handle.write('\n{"id": "cut", "time": 1796000000')
    else:  # a kill after a merge was published, before its sources were deleted
        copy = "".join(json.dumps(r) + "\n" for r in records[:10]) + "not json\n"
        fs.write_atomic(
            f"{audit.AUDIT_FOLDER}/{day}/00000000000000000001-old-000001.jsonl", copy.encode()
        )
    writer.append([records[-1]])
    assert audit.read(fs) == records
    assert audit.read(fs, since_ms=int(str(records[-3]["time"]))) == records[-3:]


def test_answers_remembered_for_speed_end_with_the_change_that_ends_them(tmp_path: Path) -> None:
    """A server remembers verified sign-ins, proxy identities and permissions, so a client's
    requests after its first cost lookups; every change that ends one ends it at once in the
    process that made it, and within refresh_seconds when another process made it."""
    import asyncio
    import base64

    from reporter.tracking_server.auth import Access, Authenticator, AuthOptions, Unauthenticated

    now = [0.0]

    def clock() -> float:
        return now[0]

    path = tmp_path / "users.jsonl"
    log, elsewhere = FileAccessLog(path), FileAccessLog(path)  # ... another process's
    log.publish(AccessState().add_user("ann", "pw1"))
    log.publish(AccessState.replay(log.changes()).add_user("bob", "bob-pw"))
    token_change, token = AccessState.replay(log.changes()).add_token("bob")
    log.publish(token_change)
    access = Access(log, READ, refresh_seconds=1.0, clock=clock)
    auth = Authenticator(AuthOptions(mode="basic"), access, clock)

    def sign_in(header: str) -> Identity:
        return asyncio.run(auth.identify({b"authorization": header.encode()}, "127.0.0.1"))

    def basic(user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    first = sign_in(basic("ann", "pw1"))
    assert sign_in(basic("ann", "pw1")) is first  # remembered
    state = access.state()
    now[0] += 5
    assert access.reload() is state  # nothing changed: the same state, and what it answered
    assert state.permission(first, "1", "x") is READ
    access.publish(state.grant("user:ann", "x", "DENY"))  # this process's change: at once
    assert access.state().permission(first, "1", "x") is DENY
    access.publish(access.state().set_password("ann", "pw2"))
    with pytest.raises(Unauthenticated):
        sign_in(basic("ann", "pw1"))
    assert sign_in(basic("ann", "pw2")).user == "ann"
    for _ in range(5):  # a locked name is refused, remembered sign-in or not
        with pytest.raises(Unauthenticated):
            sign_in(basic("ann", "wrong"))
    with pytest.raises(Unauthenticated, match="locked out"):
        sign_in(basic("ann", "pw2"))
    assert sign_in(f"Bearer {token}").user == "bob"
    elsewhere.publish(
        AccessState.replay(elsewhere.changes()).remove_token("bob", token.split("_")[1])
    )
    assert sign_in(f"Bearer {token}").user == "bob"  # another process's change: not yet ...
    now[0] += 1.0
    with pytest.raises(Unauthenticated):  # ... but within refresh_seconds
        sign_in(f"Bearer {token}")

    proxy = Authenticator(
        AuthOptions(mode="proxy", trusted_proxies=["127.0.0.1/32"]), access, clock
    )

    def via_proxy(peer: str = "127.0.0.1") -> Identity:
        return asyncio.run(proxy.identify({b"x-forwarded-email": b"bob"}, peer))

    assert via_proxy() is via_proxy() and not via_proxy().admin
    access.publish(access.state().set_admin("bob", True))
    assert via_proxy().admin
    with pytest.raises(Unauthenticated):  # remembered for its proxy, never for another peer
        via_proxy("127.0.0.2")


def test_what_is_remembered_never_outlives_a_newer_state(tmp_path: Path) -> None:
    """Breaks an attacker found in the first version of these caches: a reload that read the
    records before a change and finished after it put the older state back (a revoked token
    worked again); every remembered sign-in kept its whole state alive (memory grew with the
    square of the changes); a sign-in was remembered by the user's position in the log, so a
    log reordered by a racing writer let an old password in."""
    import asyncio
    import base64
    import gc
    import weakref

    from reporter.tracking_server.auth import Access, Authenticator, AuthOptions, Unauthenticated

    now = [0.0]
    path = tmp_path / "users.jsonl"
    log = FileAccessLog(path)
    log.publish(AccessState().add_user("bob", "bob-pw"))
    token_change, token = AccessState.replay(log.changes()).add_token("bob")
    log.publish(token_change)

    class Paused(FileAccessLog):
        """A log whose next read returns what was read earlier (a reload that paused)."""

        held: list[dict[str, object]] | None = None

        def changes(self) -> list[dict[str, Any]]:
            held, self.held = self.held, None
            return held if held is not None else super().changes()

    paused = Paused(path)
    access = Access(paused, READ, refresh_seconds=1.0, clock=lambda: now[0])
    auth = Authenticator(AuthOptions(mode="basic"), access, lambda: now[0])

    def sign_in(header: str, address: str = "127.0.0.1") -> Identity:
        return asyncio.run(auth.identify({b"authorization": header.encode()}, address))

    assert sign_in(f"Bearer {token}").user == "bob"
    paused.held = paused.changes()  # read before the revocation ...
    access.publish(access.state().remove_token("bob", token.split("_")[1]))
    access.reload()  # ... finished after it: dropped
    with pytest.raises(Unauthenticated):
        sign_in(f"Bearer {token}")

    old = weakref.ref(access.state())
    for i in range(20):  # changes, each followed by a sign-in from a new address
        access.publish(access.state().grant(f"user:u{i}", f"e{i}", "READ"))
        sign_in("Basic " + base64.b64encode(b"bob:bob-pw").decode(), f"10.0.0.{i}")
    gc.collect()
    assert old() is None  # only the current state is kept

    def basic(password: str) -> str:
        return "Basic " + base64.b64encode(f"amy:{password}".encode()).decode()

    other = tmp_path / "reordered.jsonl"
    first = AccessState().add_user("amy", "old-pw")
    other.write_text(json.dumps(first) + "\n")
    reordered = Access(FileAccessLog(other), READ, refresh_seconds=1.0, clock=lambda: now[0])
    amy = Authenticator(AuthOptions(mode="basic"), reordered, lambda: now[0])
    header = {b"authorization": basic("old-pw").encode()}
    assert asyncio.run(amy.identify(header, "127.0.0.1")).user == "amy"
    # a racing writer's add sorts first: the old add no longer applies, the password is new
    other.write_text(json.dumps(AccessState().add_user("amy", "new-pw")) + "\n"
                     + json.dumps(first) + "\n")  # fmt: skip
    now[0] += 5
    with pytest.raises(Unauthenticated):
        asyncio.run(amy.identify(header, "127.0.0.2"))
    with pytest.raises(Unauthenticated):
        asyncio.run(amy.identify(header, "127.0.0.1"))
