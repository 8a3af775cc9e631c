"""The model registry in the Parquet store: creation records and append-only edit events.

Layout (docs/store-format.md, "Model registry"):
    registry/<key>/model.json                          a registered model, written once
    registry/<key>/_edits/<time>-<id>.edit              one change of it (name, description,
                                                        tags, aliases, deletion)
    registry/<key>/versions/<n>.json                    version n, written once
    registry/<key>/versions/_edits/<n>/<time>-<id>.edit one change of version n

`<key>` is derived from the name the model was created with (a hash: no user text becomes a
path), so processes creating one name at once write the same record and put-if-absent says
which of them created it; a deleted model keeps its key, and a new model of that name takes
the next salt. A version number is claimed by publishing `versions/<n>.json` with
put-if-absent: two processes (or servers) registering at once both read n-1 as the highest,
one wins n, the other takes n+1; numbers are never reused, not even a deleted version's.
Everything else is an edit file, never rewritten, so concurrent changes all stay; a record
reads as its edits applied in file-name (time) order. One listing of `registry/` reads the
whole registry; records and edits never change, so each is read once per process.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from reporter.core.errors import AlreadyExistsError, InvalidArgumentError, NotFoundError
from reporter.core.model_registry import (
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
MAX_SALTS = 1000
MODEL_FIELDS = ("name", "description", "deleted", "last_updated_timestamp")
VERSION_FIELDS = ("description", "current_stage", "deleted", "last_updated_timestamp")


def model_key(name: str, salt: int = 0) -> str:
    """The folder key of a model created with this name (salt > 0: earlier ones were deleted
    or renamed away)."""
    return hashlib.sha256(f"{salt}\x00{name}".encode()).hexdigest()[:32]


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
    versions: dict[int, tuple[ModelVersion, bool]] = field(default_factory=dict)  # n -> (v, del)

    def live_versions(self) -> list[ModelVersion]:
        return [v for n, (v, gone) in sorted(self.versions.items()) if not gone]


class RegistryRecords(AbstractRegistry):
    """The registry of one Parquet store: MLflow's registry operations, with its rules."""

    def __init__(self, fs: StoreFS) -> None:
        self._fs = fs
        self._records: dict[str, dict[str, Any] | None] = {}  # path -> parsed record (immutable)
        self._edits: dict[str, _Edit | None] = {}

    # reading -------------------------------------------------------------------------------
    def _state(self) -> dict[str, _Model]:
        """Every registered model (deleted ones too) by key, with its versions: one listing."""
        paths = [info.path for info in self._fs.list_files(REGISTRY_FOLDER)]
        base = REGISTRY_FOLDER + "/"
        records: dict[str, str] = {}
        model_edits: dict[str, list[str]] = {}
        version_records: dict[str, dict[int, str]] = {}
        version_edits: dict[tuple[str, int], list[str]] = {}
        for path in paths:
            parts = path[len(base) :].split("/") if path.startswith(base) else []
            if len(parts) == 2 and parts[1] == MODEL_RECORD:
                records[parts[0]] = path
            elif len(parts) == 3 and parts[1] == schema.EDITS_FOLDER:
                model_edits.setdefault(parts[0], []).append(path)
            elif len(parts) == 3 and parts[1] == VERSIONS_FOLDER and parts[2].endswith(".json"):
                digits = parts[2][: -len(".json")]
                if digits.isdigit():
                    version_records.setdefault(parts[0], {})[int(digits)] = path
            elif (
                len(parts) == 5
                and parts[1] == VERSIONS_FOLDER
                and parts[2] == schema.EDITS_FOLDER
                and parts[3].isdigit()
            ):
                version_edits.setdefault((parts[0], int(parts[3])), []).append(path)
        self._read_records(
            [*records.values(), *(p for v in version_records.values() for p in v.values())]
        )
        out: dict[str, _Model] = {}
        for key, path in records.items():
            model = self._model(key, path, model_edits.get(key, []))
            if model is None:
                continue
            for number, vpath in version_records.get(key, {}).items():
                found = self._version(model, number, vpath, version_edits.get((key, number), []))
                if found is not None:
                    model.versions[number] = found
            live = {v.version for v in model.live_versions()}
            aliases = {a: n for a, n in model.model.aliases.items() if n in live}
            model.model = replace(model.model, aliases=aliases)
            for number, (version, gone) in model.versions.items():
                named = sorted(a for a, n in aliases.items() if n == number)
                model.versions[number] = (
                    replace(version, name=model.model.name, aliases=named),
                    gone,
                )
            out[key] = model
        return out

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
            except ValueError as exc:
                reader.warn_skip(self._fs, rel, f"invalid registry record ({exc})")
                self._records[rel] = None

    def _model(self, key: str, path: str, edit_paths: Sequence[str]) -> _Model | None:
        data = self._records.get(path)
        if data is None:
            return None
        try:
            model = RegisteredModel(
                name=str(data["name"]),
                creation_timestamp=int(data["creation_timestamp"]),
                last_updated_timestamp=int(data["creation_timestamp"]),
                description=data.get("description"),
                tags={str(k): str(v) for k, v in (data.get("tags") or {}).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            reader.warn_skip(self._fs, path, f"invalid registered model record ({exc})")
            return None
        deleted = False
        aliases: dict[str, int] = {}
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
        return _Model(key, replace(model, aliases=aliases), deleted)

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
            version = ModelVersion(
                name=model.model.name,
                version=number,
                creation_timestamp=created,
                last_updated_timestamp=created,
                description=data.get("description"),
                user_id=data.get("user_id"),
                source=data.get("source"),
                run_id=data.get("run_id"),
                run_link=data.get("run_link"),
                tags={str(k): str(v) for k, v in (data.get("tags") or {}).items()},
                # (the record keeps the logged model's id; MLflow 3's store reads back None)
                storage_location=data.get("storage_location"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            reader.warn_skip(self._fs, path, f"invalid model version record ({exc})")
            return None
        deleted = False
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
            return _Edit(
                fields=dict(edit.get("set") or {}),
                tags={str(k): str(v) for k, v in (edit.get("tags") or {}).items()},
                deleted_tags=tuple(str(k) for k in edit.get("deleted_tags") or ()),
                aliases={str(k): int(v) for k, v in (edit.get("aliases") or {}).items()},
                deleted_aliases=tuple(str(k) for k in edit.get("deleted_aliases") or ()),
            )
        except (ValueError, TypeError, AttributeError) as exc:
            reader.warn_skip(self._fs, rel, f"invalid registry edit ({exc})")
            return None

    def _find(self, name: str, state: Mapping[str, _Model] | None = None) -> _Model:
        check_model_name(name)
        state = self._state() if state is None else state
        found = [m for m in state.values() if not m.deleted and m.model.name == name]
        if not found:
            raise NotFoundError(f"Registered Model with name={name} not found")
        return min(found, key=lambda m: (m.model.creation_timestamp or 0, m.key))

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
        return replace(model.model, latest_versions=[latest[s] for s in STAGES if s in latest])

    # registered models -----------------------------------------------------------------------
    def list_models(self) -> list[RegisteredModel]:
        """Every registered model (deleted ones left out), with its latest versions."""
        return [self._with_latest(m) for m in self._state().values() if not m.deleted]

    def get_model(self, name: str) -> RegisteredModel:
        return self._with_latest(self._find(name))

    def create_model(
        self, name: str, tags: Mapping[str, Any] | None = None, description: str | None = None
    ) -> RegisteredModel:
        check_model_name(name)
        texts = dict(check_tag(k, v) for k, v in (tags or {}).items())
        description = check_description(description)
        state = self._state()
        if any(not m.deleted and m.model.name == name for m in state.values()):
            raise AlreadyExistsError(f"Registered Model (name={name}) already exists.")
        now = _now_ms()
        record = {
            "name": name,
            "creation_timestamp": now,
            "description": description,
            "tags": texts,
        }
        data = json.dumps(record, sort_keys=True, indent=1).encode()
        for salt in range(MAX_SALTS):
            key = model_key(name, salt)
            if key in state:
                continue  # a model once created with this name: deleted or renamed since
            path = self._fs.join(REGISTRY_FOLDER, key, MODEL_RECORD)
            if self._fs.write_atomic(path, data, if_absent=True):
                return self.get_model(name)
            state = self._state()  # another process created this key just now
            if any(not m.deleted and m.model.name == name for m in state.values()):
                raise AlreadyExistsError(f"Registered Model (name={name}) already exists.")
        raise InvalidArgumentError(f"Registered model {name!r} was re-created too many times")

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
        state = self._state()
        model = self._find(name, state)
        if new_name != name and any(
            not m.deleted and m.model.name == new_name for m in state.values()
        ):
            raise AlreadyExistsError(f"Registered Model (name={new_name}) already exists.")
        self._edit_model(name, set_fields={"name": new_name}, model=model)
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
        return self.get_version(name, number)

    def get_version(self, name: str, version: Any) -> ModelVersion:
        return self._find_version(name, version)[1]

    def list_versions(self) -> list[ModelVersion]:
        """Every live version of every live model."""
        return [v for m in self._state().values() if not m.deleted for v in m.live_versions()]

    def update_version(self, name: str, version: Any, **fields: Any) -> ModelVersion:
        model, found = self._find_version(name, version)
        self._edit_version(model, found.version, set_fields=fields)
        return self.get_version(name, found.version)

    def delete_version(self, name: str, version: Any) -> None:
        model, found = self._find_version(name, version)
        self._edit_version(model, found.version, set_fields={"deleted": True})
        if found.aliases:
            self._edit_model(name, deleted_aliases=found.aliases, model=model)

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
        return model.versions[number][0]
