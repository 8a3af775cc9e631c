"""The model registry in the Parquet store: creation records and append-only edit events.

Layout (docs/store-format.md, "Model registry"):
    registry/<key>/model.json                          a registered model, or a rename's claim
                                                        of a name, written once
    registry/<key>/_edits/<time>-<id>.edit              one change of it (description, tags,
                                                        aliases, deletion)
    registry/<key>/versions/<n>.json                    version n, written once
    registry/<key>/versions/_edits/<n>/<time>-<id>.edit one change of version n

`<key>` is derived from a name (a hash: no user text becomes a path). A name is held by a
claim: the model's creation record, or a rename's record (`{"name", "renames": <key>,
"claimed_ns"}`) at the name's first free key, published with put-if-absent, so of processes
creating or renaming to one name at once one wins and the others are told it exists. A model's
name is its newest claim; a claim stays as the model is renamed again or deleted, and the
name then takes the next salt. A version number is claimed by publishing `versions/<n>.json` with
put-if-absent: two processes (or servers) registering at once both read n-1 as the highest,
one wins n, the other takes n+1; numbers are never reused, not even a deleted version's.
Everything else is an edit file, never rewritten, so concurrent changes all stay; a record
reads as its edits applied in file-name (time) order. An import (`import_model`,
`import_version`) writes records that carry the state MLflow had (update time, aliases; a
version's stage, status, deletion) and publishes nothing when the registry already reads as
the source. One listing of `registry/` reads the
whole registry; records and edits never change, so each is read once per process.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from reporter.core.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from reporter.core.model_registry import (
    READY,
    STAGES,
    ModelVersion,
    RegisteredModel,
    check_alias,
    check_description,
    check_model_name,
    check_tag,
    version_number,
)
from reporter.store.parquet import edits, reader, schema
from reporter.store.parquet.fs import StoreFS
from reporter.store.protocol import AbstractRegistry

REGISTRY_FOLDER = "registry"
MODEL_RECORD = "model.json"
VERSIONS_FOLDER = "versions"
MODEL_FIELDS = ("description", "deleted", "last_updated_timestamp")
VERSION_FIELDS = ("description", "current_stage", "deleted", "last_updated_timestamp")


def model_key(name: str, salt: int = 0) -> str:
    """The folder key of a model created with this name (salt > 0: earlier ones were deleted
    or renamed away)."""
    return hashlib.sha256(f"{salt}\x00{name}".encode()).hexdigest()[:32]


MAX_SALT = 10_000  # names claimed again after renames and deletes: far fewer in practice


def _key_holds(key: str, name: str) -> bool:
    """Whether `key` is one of the folder keys a claim of `name` is published at (a folder
    copied under another name, or a record copied into another model's folder, is not)."""
    return any(model_key(name, salt) == key for salt in range(MAX_SALT))


def _copy(version: ModelVersion) -> ModelVersion:
    """A caller's own copy of a version (the registry's are kept between calls): its fields
    as they are, its tags and aliases its own (copy.copy: `replace` would check every field
    again, which a search of every version pays for each one)."""
    out = copy.copy(version)
    out.tags, out.aliases = dict(version.tags), list(version.aliases)
    return out


def _texts(value: Any, what: str) -> dict[str, str]:
    """A stored mapping of texts (tags); a ValueError naming it if it is anything else."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{what} is {type(value).__name__}, not an object")
    return {str(k): str(v) for k, v in value.items()}


def _text_or_none(value: Any, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{what} is {type(value).__name__}, not text")
    return value


def _numbers(value: Any, what: str) -> dict[str, int]:
    """A stored mapping of names to version numbers (aliases)."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(n, int) and not isinstance(n, bool) for n in value.values()
    ):
        raise ValueError(f"{what} is not an object of version numbers")
    return {str(k): n for k, n in value.items()}


def _number(value: Any, what: str) -> int:
    """A whole number as a record holds it (not true/false, 2.9 or "3")."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} is {value!r}, not a whole number")
    return value


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {type(value).__name__}")
    return value


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class _Edit:
    fields: dict[str, Any]
    tags: dict[str, str]
    deleted_tags: tuple[str, ...]
    aliases: dict[str, int]
    deleted_aliases: tuple[str, ...]


@dataclass
class _Model:
    key: str
    model: RegisteredModel
    deleted: bool
    claimed_ns: int  # when its creation record claimed its first name
    versions: dict[int, tuple[ModelVersion, bool]] = field(default_factory=dict)  # n -> (v, del)
    recorded_aliases: dict[str, int] = field(default_factory=dict)  # live versions or not

    def live_versions(self) -> list[ModelVersion]:
        return [v for n, (v, gone) in sorted(self.versions.items()) if not gone]


@dataclass(frozen=True)
class _Claim:
    """A name held by a model: its creation record, or a rename's record (`renames`)."""

    name: str
    target: str  # the model's key
    claimed_ns: int


def _claim_of(data: Mapping[str, Any]) -> _Claim | None:
    name, target, at = data.get("name"), data.get("renames"), data.get("claimed_ns")
    if not isinstance(name, str) or not isinstance(target, str) or not isinstance(at, int):
        return None
    return _Claim(name, target, at)


@dataclass
class _State:
    models: dict[str, _Model]  # by key (deleted ones too)
    claims: dict[str, _Claim]  # by key: every name ever claimed
    holder: dict[str, str]  # model key -> the key of its newest claim (its current name)
    occupied: set[str]  # every key with a record, damaged ones too (never free again)

    def live(self, key: str) -> _Model | None:
        """The model whose current name the claim at `key` is, or None (a stale claim)."""
        claim = self.claims.get(key)
        if claim is None:
            return None
        model = self.models.get(claim.target)
        if model is None or model.deleted or self.holder.get(claim.target) != key:
            return None
        return model

    def named(self, name: str) -> tuple[_Model | None, str]:
        """The live model of that name, and the first free key for the name (its claims sit
        at salts 0, 1, 2, ...: keys are never removed, so they form a run)."""
        salt = 0
        while True:
            key = model_key(name, salt)
            if key not in self.occupied:
                return None, key
            model = self.live(key)
            if model is not None and model.model.name == name:
                return model, key
            salt += 1


class RegistryRecords(AbstractRegistry):
    """The registry of one Parquet store: MLflow's registry operations, with its rules."""

    def __init__(self, fs: StoreFS) -> None:
        self._fs = fs
        self._records: dict[str, dict[str, Any] | None] = {}  # path -> parsed record (immutable)
        self._edits: dict[str, _Edit | None] = {}
        self._built: tuple[tuple[str, ...], _State] | None = None  # the last listing's state
        # key -> (its files at the last build, what they built): files never change
        self._cached: dict[str, tuple[tuple[str, ...], _Model | _Claim | None]] = {}

    # reading -------------------------------------------------------------------------------
    def _state(self) -> _State:
        """Every registered model (deleted ones too) by key, with its versions, and every
        name claim: one listing."""
        paths = self._fs.list_paths(REGISTRY_FOLDER)
        listed = tuple(paths)
        cached = self._built
        if cached is not None and cached[0] == listed:
            return cached[1]  # the same files (which never change): the same registry
        state = self._build(paths)
        self._built = (listed, state)
        return state

    def _build(self, paths: Sequence[str]) -> _State:
        """The registry from one listing. A model whose files are the ones it had at the
        last build is taken as it was built then (its files never change): a registration
        costs the listing and the models it touched, not a re-read of every version."""
        base = REGISTRY_FOLDER + "/"
        records: dict[str, str] = {}
        files: dict[str, list[str]] = {}  # key -> every file of the model, in listing order
        model_edits: dict[str, list[str]] = {}
        version_records: dict[str, dict[int, str]] = {}
        version_edits: dict[str, dict[int, list[str]]] = {}
        for path in paths:
            parts = path[len(base) :].split("/") if path.startswith(base) else []
            if len(parts) == 2 and parts[1] == MODEL_RECORD:
                records[parts[0]] = path
            elif len(parts) == 3 and parts[1] == schema.EDITS_FOLDER:
                model_edits.setdefault(parts[0], []).append(path)
            elif len(parts) == 3 and parts[1] == VERSIONS_FOLDER and parts[2].endswith(".json"):
                digits = parts[2][: -len(".json")]
                if not (digits.isascii() and digits.isdigit()):  # (int() takes '³' and '３')
                    continue
                version_records.setdefault(parts[0], {})[int(digits)] = path
            elif (
                len(parts) == 5
                and parts[1] == VERSIONS_FOLDER
                and parts[2] == schema.EDITS_FOLDER
                and parts[3].isascii()
                and parts[3].isdigit()
            ):
                version_edits.setdefault(parts[0], {}).setdefault(int(parts[3]), []).append(path)
            else:
                continue
            files.setdefault(parts[0], []).append(path)
        fresh = [k for k in records if self._cached.get(k, ((), None))[0] != tuple(files[k])]
        # read together (in parallel on an object store), then built one by one
        self._read_records(
            [records[k] for k in fresh]
            + [p for k in fresh for p in version_records.get(k, {}).values()]
        )
        out: dict[str, _Model] = {}
        claims: dict[str, _Claim] = {}
        cached: dict[str, tuple[tuple[str, ...], _Model | _Claim | None]] = {}
        for key, path in records.items():
            signature = tuple(files.get(key, ()))
            before = self._cached.get(key)
            if before is not None and before[0] == signature:
                built = before[1]
            else:
                built = self._model_or_claim(
                    key,
                    path,
                    model_edits.get(key, []),
                    version_records.get(key, {}),
                    version_edits.get(key, {}),
                )
            cached[key] = (signature, built)
            if isinstance(built, _Claim):
                claims[key] = built
            elif built is not None:
                out[key] = built
        self._cached = cached
        # a model's name: its newest claim (its creation record, or a rename's record)
        for key, model in out.items():
            claims[key] = _Claim(model.model.name, key, model.claimed_ns)
        newest: dict[str, tuple[int, str]] = {}
        for key, claim in claims.items():
            if claim.target in out:
                rank = (claim.claimed_ns, key)
                if claim.target not in newest or rank > newest[claim.target]:
                    newest[claim.target] = rank
        for target, (_, key) in newest.items():
            name = claims[key].name
            if out[target].model.name != name:  # renamed: a copy (the built one is kept)
                out[target] = self._renamed(out[target], name)
        return _State(out, claims, {t: k for t, (_, k) in newest.items()}, set(records))

    def _model_or_claim(
        self,
        key: str,
        path: str,
        edit_paths: Sequence[str],
        version_paths: Mapping[int, str],
        version_edits: Mapping[int, Sequence[str]],
    ) -> _Model | _Claim | None:
        """One key's record: a model with its versions (named as its creation record names
        it), a rename's claim, or None (damaged: warned about)."""
        self._read_records([path, *version_paths.values()])
        data = self._records.get(path)
        if isinstance(data, dict) and "renames" in data:
            claim = _claim_of(data)
            if claim is None:
                reader.warn_skip(self._fs, path, "invalid registered model rename record")
            elif not _key_holds(key, claim.name):
                reader.warn_skip(self._fs, path, "a rename record in a folder not named for it")
                return None
            return claim
        model = self._model(key, path, edit_paths)
        if model is None:
            return None
        if not _key_holds(key, model.model.name):
            reader.warn_skip(
                self._fs, path, "a registered model in a folder not named for it (a copy?)"
            )
            return None
        for number, vpath in version_paths.items():
            found = self._version(model, number, vpath, version_edits.get(number, []))
            if found is not None:
                model.versions[number] = found
        live = {v.version for v in model.live_versions()}
        model.recorded_aliases = dict(model.model.aliases)
        aliases = {a: n for a, n in model.model.aliases.items() if n in live}
        model.model = replace(model.model, aliases=aliases)
        for number, (version, gone) in model.versions.items():
            named = sorted(a for a, n in aliases.items() if n == number)
            model.versions[number] = (replace(version, name=model.model.name, aliases=named), gone)
        return model

    @staticmethod
    def _renamed(model: _Model, name: str) -> _Model:
        """A copy of a model under its current name."""
        return replace(
            model,
            model=replace(model.model, name=name),
            versions={n: (replace(v, name=name), gone) for n, (v, gone) in model.versions.items()},
        )

    def _read_records(self, paths: Sequence[str]) -> None:
        missing = [p for p in paths if p not in self._records]
        if not missing:
            return
        found = self._fs.read_many(missing)
        for rel in missing:
            if rel not in found:
                continue
            try:
                data = json.loads(found[rel])
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
                self._records[rel] = data
            except (ValueError, RecursionError) as exc:
                reader.warn_skip(self._fs, rel, f"invalid registry record ({exc})")
                self._records[rel] = None

    def _model(self, key: str, path: str, edit_paths: Sequence[str]) -> _Model | None:
        data = self._records.get(path)
        if data is None:
            return None
        try:
            name = data["name"]
            if not isinstance(name, str):
                raise ValueError(f"the name is {type(name).__name__}, not text")
            created = int(data["creation_timestamp"])
            model = RegisteredModel(
                name=name,
                creation_timestamp=created,
                last_updated_timestamp=int(data.get("last_updated_timestamp") or created),
                description=_text_or_none(data.get("description"), "description"),
                tags=_texts(data.get("tags"), "tags"),
            )
            aliases = _numbers(data.get("aliases"), "aliases")  # an imported model's
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            reader.warn_skip(self._fs, path, f"invalid registered model record ({exc})")
            self._records[path] = None  # (files never change: warned about once)
            return None
        deleted = False
        for edit in edits.ordered_edits(self._fs, self._edits, edit_paths, self._parse_edit):
            fields = dict(edit.fields)
            deleted = bool(fields.pop("deleted", deleted))
            model = replace(model, **{k: v for k, v in fields.items() if k in MODEL_FIELDS})
            tags = {**model.tags, **edit.tags}
            for k in edit.deleted_tags:
                tags.pop(k, None)
            aliases.update(edit.aliases)
            for a in edit.deleted_aliases:
                aliases.pop(a, None)
            model = replace(model, tags=tags)
        claimed = data.get("claimed_ns")
        claimed_ns = (
            claimed if isinstance(claimed, int) else (model.creation_timestamp or 0) * 10**6
        )
        return _Model(key, replace(model, aliases=aliases), deleted, claimed_ns)

    def _version(
        self, model: _Model, number: int, path: str, edit_paths: Sequence[str]
    ) -> tuple[ModelVersion, bool] | None:
        data = self._records.get(path)
        if data is None:
            return None
        try:
            if int(data["version"]) != number:
                raise ValueError(f"the record says version {data['version']}")
            created = int(data["creation_timestamp"])
            # (an imported version's record carries the stage, status and times MLflow had)
            stage = data.get("current_stage", "None")
            if stage not in STAGES:
                raise ValueError(f"unknown stage {stage!r}")
            deleted = data.get("deleted", False)
            if not isinstance(deleted, bool):
                raise ValueError("deleted is not true or false")
            version = ModelVersion(
                name=model.model.name,
                version=number,
                creation_timestamp=created,
                last_updated_timestamp=int(data.get("last_updated_timestamp") or created),
                description=_text_or_none(data.get("description"), "description"),
                user_id=_text_or_none(data.get("user_id"), "user_id"),
                current_stage=stage,
                source=_text_or_none(data.get("source"), "source"),
                run_id=_text_or_none(data.get("run_id"), "run_id"),
                run_link=_text_or_none(data.get("run_link"), "run_link"),
                status=_text_or_none(data.get("status"), "status") or READY,
                status_message=_text_or_none(data.get("status_message"), "status_message"),
                tags=_texts(data.get("tags"), "tags"),
                # (the record keeps the logged model's id; MLflow 3's store reads back None)
                storage_location=_text_or_none(data.get("storage_location"), "storage_location"),
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            reader.warn_skip(self._fs, path, f"invalid model version record ({exc})")
            self._records[path] = None
            return None
        for edit in edits.ordered_edits(self._fs, self._edits, edit_paths, self._parse_edit):
            fields = dict(edit.fields)
            deleted = bool(fields.pop("deleted", deleted))
            version = replace(version, **{k: v for k, v in fields.items() if k in VERSION_FIELDS})
            tags = {**version.tags, **edit.tags}
            for k in edit.deleted_tags:
                tags.pop(k, None)
            version = replace(version, tags=tags)
        return version, deleted

    def _parse_edit(self, rel: str, data: bytes) -> _Edit | None:
        try:
            edit = json.loads(data)
            if not isinstance(edit, dict):
                raise ValueError("not a JSON object")
            fields = edit.get("set") or {}
            if not isinstance(fields, dict):
                raise ValueError("'set' is not an object")
            _text_or_none(fields.get("description"), "description")
            stage = fields.get("current_stage", "None")
            if stage not in STAGES:
                raise ValueError(f"unknown stage {stage!r}")
            for flag, kind in (("deleted", bool), ("last_updated_timestamp", int)):
                if flag in fields and not isinstance(fields[flag], kind):
                    raise ValueError(f"{flag} is not {kind.__name__}")
            aliases = edit.get("aliases") or {}
            if not isinstance(aliases, dict):
                raise ValueError("'aliases' is not an object")
            return _Edit(
                fields=dict(fields),
                tags=_texts(edit.get("tags"), "tags"),
                deleted_tags=tuple(str(k) for k in _listed(edit.get("deleted_tags"))),
                aliases={str(k): _number(v, "alias") for k, v in aliases.items()},
                deleted_aliases=tuple(str(k) for k in _listed(edit.get("deleted_aliases"))),
            )
        except (ValueError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
            reader.warn_skip(self._fs, rel, f"invalid registry edit ({exc})")
            return None

    def _find(self, name: str, state: _State | None = None) -> _Model:
        check_model_name(name)
        model, _ = (self._state() if state is None else state).named(name)
        if model is None:
            raise NotFoundError(f"Registered Model with name={name} not found")
        return model

    def _find_version(self, name: str, version: Any) -> tuple[_Model, ModelVersion]:
        number = version_number(version)
        model = self._find(name)
        found = model.versions.get(number)
        if found is None or found[1]:
            raise NotFoundError(f"Model Version (name={name}, version={number}) not found")
        return model, found[0]

    @staticmethod
    def _with_latest(model: _Model) -> RegisteredModel:
        latest: dict[str, ModelVersion] = {}
        for version in model.live_versions():
            latest[version.current_stage] = version  # ascending: the highest stays
        return replace(
            model.model,
            latest_versions=[_copy(latest[s]) for s in STAGES if s in latest],
            tags=dict(model.model.tags),
            aliases=dict(model.model.aliases),
        )

    # registered models -----------------------------------------------------------------------
    def list_models(self) -> list[RegisteredModel]:
        """Every registered model (deleted ones left out), with its latest versions."""
        return [self._with_latest(m) for m in self._state().models.values() if not m.deleted]

    def get_model(self, name: str) -> RegisteredModel:
        return self._with_latest(self._find(name))

    def create_model(
        self, name: str, tags: Mapping[str, Any] | None = None, description: str | None = None
    ) -> RegisteredModel:
        check_model_name(name)
        texts = dict(check_tag(k, v) for k, v in (tags or {}).items())
        description = check_description(description)
        now = time.time_ns()
        record = {
            "name": name,
            "creation_timestamp": now // 1_000_000,
            "claimed_ns": now,
            "description": description,
            "tags": texts,
        }
        self._claim(name, record)
        return self.get_model(name)

    def _claim(self, name: str, record: Mapping[str, Any]) -> None:
        """Publish a record holding `name` at the name's first free key (put-if-absent: of
        processes creating or renaming to one name at once, one wins, the others are told
        the name exists)."""
        data = json.dumps(record, sort_keys=True, indent=1).encode()
        while True:
            live, key = self._state().named(name)
            if live is not None:
                raise AlreadyExistsError(f"Registered Model (name={name}) already exists.")
            path = self._fs.join(REGISTRY_FOLDER, key, MODEL_RECORD)
            if self._fs.write_atomic(path, data, if_absent=True):
                return
            # another process claimed this key just now: look again

    def _edit_model(
        self,
        name: str,
        *,
        set_fields: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        deleted_tags: Sequence[str] = (),
        aliases: Mapping[str, int] | None = None,
        deleted_aliases: Sequence[str] = (),
        model: _Model | None = None,
    ) -> None:
        """Publish one edit of a model (a new file: concurrent edits all stay)."""
        found = model or self._find(name)
        now = time.time_ns()
        edit = {
            "set": {"last_updated_timestamp": now // 1_000_000, **(set_fields or {})},
            "tags": dict(tags or {}),
            "deleted_tags": list(deleted_tags),
            "aliases": dict(aliases or {}),
            "deleted_aliases": list(deleted_aliases),
        }
        folder = self._fs.join(REGISTRY_FOLDER, found.key, schema.EDITS_FOLDER)
        edits.publish_edit(self._fs, folder, edit, now)

    def _edit_version(
        self,
        model: _Model,
        number: int,
        *,
        set_fields: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        deleted_tags: Sequence[str] = (),
    ) -> None:
        now = time.time_ns()
        edit = {
            "set": {"last_updated_timestamp": now // 1_000_000, **(set_fields or {})},
            "tags": dict(tags or {}),
            "deleted_tags": list(deleted_tags),
        }
        folder = self._fs.join(
            REGISTRY_FOLDER, model.key, VERSIONS_FOLDER, schema.EDITS_FOLDER, str(number)
        )
        edits.publish_edit(self._fs, folder, edit, now)

    def update_model(self, name: str, description: str | None) -> RegisteredModel:
        self._edit_model(name, set_fields={"description": check_description(description)})
        return self.get_model(name)

    def rename_model(self, name: str, new_name: str) -> RegisteredModel:
        check_model_name(new_name, "new_name")
        model = self._find(name)
        if new_name != name:
            now = time.time_ns()
            self._claim(new_name, {"name": new_name, "renames": model.key, "claimed_ns": now})
            self._edit_model(new_name, model=model)  # its last_updated_timestamp
        return self.get_model(new_name)

    def delete_model(self, name: str) -> None:
        self._edit_model(name, set_fields={"deleted": True})

    # versions ------------------------------------------------------------------------------
    def create_version(
        self,
        name: str,
        source: str,
        *,
        run_id: str | None = None,
        tags: Mapping[str, Any] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        model_id: str | None = None,
        storage_location: str | None = None,
        user_id: str | None = None,
    ) -> ModelVersion:
        """Claim the next version number (put-if-absent: never two versions with one number)."""
        texts = dict(check_tag(k, v) for k, v in (tags or {}).items())
        description = check_description(description)
        model = self._find(name)
        number = max(model.versions, default=0) + 1
        now = _now_ms()
        while True:
            record = {
                "version": number,
                "creation_timestamp": now,
                "source": source,
                "storage_location": storage_location or source,
                "run_id": run_id,
                "run_link": run_link,
                "description": description,
                "user_id": user_id,
                "tags": texts,
                "model_id": model_id,
            }
            data = json.dumps(record, sort_keys=True, indent=1).encode()
            path = self._fs.join(REGISTRY_FOLDER, model.key, VERSIONS_FOLDER, f"{number}.json")
            if self._fs.write_atomic(path, data, if_absent=True):
                break
            number += 1  # another process took this number just now
        self._edit_model(name, model=model)  # the model's last_updated_timestamp
        # what was just written, as a read gives it (no listing: the number is ours)
        self._records[path] = json.loads(data)
        built = self._version(model, number, path, [])
        if built is None:  # unreadable just after it was written: say so, as a read would
            raise NotFoundError(f"Model Version (name={name}, version={number}) not found")
        return _copy(built[0])

    def get_version(self, name: str, version: Any) -> ModelVersion:
        return _copy(self._find_version(name, version)[1])

    def list_versions(self) -> list[ModelVersion]:
        """Every live version of every live model."""
        models = self._state().models.values()
        return [_copy(v) for m in models if not m.deleted for v in m.live_versions()]

    def update_version(self, name: str, version: Any, **fields: Any) -> ModelVersion:
        model, found = self._find_version(name, version)
        self._edit_version(model, found.version, set_fields=fields)
        return self.get_version(name, found.version)

    def delete_version(self, name: str, version: Any) -> None:
        model, found = self._find_version(name, version)
        self._edit_version(model, found.version, set_fields={"deleted": True})
        if found.aliases:  # the model's update time (its aliases of a deleted version are
            # hidden by reads: an edit dropping them would also drop one moved meanwhile)
            self._edit_model(name, model=model)

    def set_version_tag(self, name: str, version: Any, key: str, value: Any) -> None:
        model, found = self._find_version(name, version)
        key, text = check_tag(key, value)
        self._edit_version(model, found.version, tags={key: text})

    def delete_version_tag(self, name: str, version: Any, key: str) -> None:
        model, found = self._find_version(name, version)
        self._edit_version(model, found.version, deleted_tags=[key])

    # tags and aliases ------------------------------------------------------------------------
    def set_model_tag(self, name: str, key: str, value: Any) -> None:
        key, text = check_tag(key, value)
        self._edit_model(name, tags={key: text})

    def delete_model_tag(self, name: str, key: str) -> None:
        self._edit_model(name, deleted_tags=[key])

    def set_alias(self, name: str, alias: str, version: Any) -> None:
        check_alias(alias)
        model, found = self._find_version(name, version)
        self._edit_model(name, aliases={alias: found.version}, model=model)

    def delete_alias(self, name: str, alias: str) -> None:
        check_alias(alias)
        self._edit_model(name, deleted_aliases=[alias])

    def version_by_alias(self, name: str, alias: str) -> ModelVersion:
        model = self._find(name)
        number = model.model.aliases.get(alias)
        if number is None:
            raise InvalidArgumentError(f"Registered model alias {alias} not found.")
        return _copy(model.versions[number][0])

    # imports -----------------------------------------------------------------------------------
    def import_model(self, model: RegisteredModel) -> bool:
        """Create the model as given, or publish one edit with what differs (see the ABC)."""
        name = check_model_name(model.name)
        tags = dict(check_tag(k, v) for k, v in model.tags.items())
        aliases = {check_alias(a): version_number(n) for a, n in model.aliases.items()}
        description = check_description(model.description)
        found, _ = self._state().named(name)
        if found is None:
            now = time.time_ns()
            created = model.creation_timestamp or now // 1_000_000
            record = {
                "name": name,
                "creation_timestamp": created,
                "last_updated_timestamp": model.last_updated_timestamp or created,
                "claimed_ns": now,
                "description": description,
                "tags": tags,
                "aliases": aliases,
            }
            self._claim(name, record)
            return True
        have = found.model
        if model.creation_timestamp is not None and have.creation_timestamp != (
            model.creation_timestamp
        ):
            raise AlreadyExistsError(
                f"Registered Model (name={name}) already exists here, created at "
                f"{have.creation_timestamp} ms; the one imported was created at "
                f"{model.creation_timestamp} ms"
            )
        updated = model.last_updated_timestamp or have.last_updated_timestamp
        changed = {"description": description} if have.description != description else {}
        new_tags = {k: v for k, v in tags.items() if have.tags.get(k) != v}
        gone_tags = sorted(set(have.tags) - set(tags))
        new_aliases = {a: n for a, n in aliases.items() if found.recorded_aliases.get(a) != n}
        gone_aliases = sorted(set(found.recorded_aliases) - set(aliases))
        if not (changed or new_tags or gone_tags or new_aliases or gone_aliases) and (
            updated == have.last_updated_timestamp
        ):
            return False
        self._edit_model(
            name,
            set_fields={**changed, "last_updated_timestamp": updated},
            tags=new_tags,
            deleted_tags=gone_tags,
            aliases=new_aliases,
            deleted_aliases=gone_aliases,
            model=found,
        )
        return True

    def import_version(self, version: ModelVersion, *, deleted: bool = False) -> bool:
        """Create the version under its own number, or publish one edit with what differs
        (see the ABC)."""
        number = version_number(version.version)
        if number < 1:
            raise InvalidArgumentError(f"Version numbers start at 1, got {number}")
        tags = dict(check_tag(k, v) for k, v in version.tags.items())
        description = check_description(version.description)
        if version.current_stage not in STAGES:
            raise InvalidArgumentError(
                f"Invalid Model Version stage: {version.current_stage}. Value must be one of "
                f"{', '.join(STAGES)}."
            )
        model = self._find(version.name)
        created = version.creation_timestamp
        updated = version.last_updated_timestamp or created
        if number not in model.versions:
            record = {
                "version": number,
                "creation_timestamp": created,
                "last_updated_timestamp": updated,
                "source": version.source,
                "storage_location": version.storage_location or version.source,
                "run_id": version.run_id,
                "run_link": version.run_link,
                "description": description,
                "user_id": version.user_id,
                "current_stage": version.current_stage,
                "status": version.status,
                "status_message": version.status_message,
                "tags": tags,
                "model_id": version.model_id,
                "deleted": deleted,
            }
            data = json.dumps(record, sort_keys=True, indent=1).encode()
            path = self._fs.join(REGISTRY_FOLDER, model.key, VERSIONS_FOLDER, f"{number}.json")
            if self._fs.write_atomic(path, data, if_absent=True):
                return True
            model = self._state().models[model.key]  # written meanwhile: compare with it
        found = model.versions.get(number)
        if found is None or found[0].creation_timestamp != created:
            what = (
                "a damaged record"
                if found is None
                else f"another version, created at {found[0].creation_timestamp} ms"
            )
            raise AlreadyExistsError(
                f"Model Version (name={version.name}, version={number}) already exists here "
                f"as {what}"
            )
        have, gone = found
        if gone:
            return False  # deleted here: it stays deleted
        changed: dict[str, Any] = {"deleted": True} if deleted else {}
        if have.description != description:
            changed["description"] = description
        if have.current_stage != version.current_stage:
            changed["current_stage"] = version.current_stage
        new_tags = {k: v for k, v in tags.items() if have.tags.get(k) != v}
        gone_tags = sorted(set(have.tags) - set(tags))
        if not (changed or new_tags or gone_tags) and updated == have.last_updated_timestamp:
            return False
        self._edit_version(
            model,
            number,
            set_fields={**changed, "last_updated_timestamp": updated},
            tags=new_tags,
            deleted_tags=gone_tags,
        )
        return True
