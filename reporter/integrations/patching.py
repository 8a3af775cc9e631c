"""The autologging mechanism every framework integration shares.

An `Integration` (one per framework: `sklearn`, `xgboost`, ...) holds what its `autolog()` call
switched on: its options, and every attribute it replaced, to put back exactly on
`disable=True` (or on a new `autolog()` call). Its patched functions run the original plainly
unless the call is *top-level*: one thread-local depth, shared by every integration, says
whether this thread is already inside an autologged call (the steps of a pipeline, a search's
candidates, `xgboost.train` under `XGBClassifier.fit`), so a model is logged once, by the call
the user made. A top-level call runs inside a run (`Integration.run`): the active run, or one
of its own tagged `mlflow.autologging=<flavor>`, ended FINISHED, FAILED when training raises
(KILLED on Ctrl-C). Logging never breaks training: what cannot be recorded is a warning
(`AutologgingWarning`, at the user's line, none when `silent`), and training's own exceptions
reach the caller unchanged.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from reporter.core import system_tags

if TYPE_CHECKING:
    from reporter.tracking.fluent import ActiveRun

T = TypeVar("T")
TAG_AUTOLOGGING = system_tags.TAG_AUTOLOGGING  # on the runs autologging creates
ABSENT = object()  # an attribute a class inherited (or a module lacked) before patching
# frames warn() steps over to reach the user's line: reporter's own, and contextlib's (the
# `with integration.run(...)` blocks)
_SKIPPED = (
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,
    os.path.abspath(contextlib.__file__),
)
log = logging.getLogger(__name__)


def _importing(frame: Any) -> bool:
    """A frame of the import machinery (a post-import hook runs under the user's `import`);
    `warnings` steps over these without counting them in `stacklevel`."""
    name = frame.f_code.co_filename
    return "importlib" in name and "_bootstrap" in name


class AutologgingWarning(UserWarning):
    """Autologging could not record something; training itself went through."""


@dataclass(frozen=True)
class Options:
    """The options every integration's `autolog()` takes; integrations add their own."""

    log_models: bool = True
    exclusive: bool = False  # leave runs the user started alone
    silent: bool = False  # no warnings from autologging
    extra_tags: dict[str, str] = field(default_factory=dict)


class _Configuring(threading.local):
    globally = False  # inside mlflow.autolog()'s call of a framework's autolog()


_configuring = _Configuring()


@contextlib.contextmanager
def configuring_globally() -> Iterator[None]:
    """Mark the framework autolog() calls made in this block as `mlflow.autolog()`'s."""
    before = _configuring.globally
    _configuring.globally = True
    try:
        yield
    finally:
        _configuring.globally = before


def extra_tags_of(extra_tags: Mapping[str, Any] | None) -> dict[str, str]:
    """`autolog(extra_tags=...)` as the tags' texts (MLflow's `str()` of keys and values)."""
    return {str(k): str(v) for k, v in (extra_tags or {}).items()}


class _Depth(threading.local):
    """How deep this thread is inside autologged calls (0: not inside one), and which
    integrations' nested calls were invited to log into the current run (`invite`)."""

    value = 0
    invited: dict[str, dict[str, Any]] | None = None
    answering: dict[str, Any] | None = None  # the invitation the running nested call took


_depth = _Depth()


def inside() -> bool:
    """Return True inside an autologged call (any integration's), in this thread."""
    return _depth.value > 0


@contextlib.contextmanager
def nested() -> Iterator[None]:
    """Run a block as inside an autologged call: patched calls in it log nothing."""
    _depth.value += 1
    try:
        yield
    finally:
        _depth.value -= 1


@contextlib.contextmanager
def invite(flavor: str, **context: Any) -> Iterator[None]:
    """Let `flavor`'s invitable patched calls (`top_level(..., invitable=True)`) made in this
    block, inside an autologged call, log into its run (with `context`: `invitation()` returns
    it to them). XGBClassifier.fit invites xgboost.train, which knows the booster's params and
    evaluation results; the invited call's own nested calls are plain again."""
    before = dict(_depth.invited or {})
    _depth.invited = {**before, flavor: context}
    try:
        yield
    finally:
        _depth.invited = before


def invitation() -> dict[str, Any] | None:
    """The context a nested call was invited with (`invite`), None in a top-level call."""
    return _depth.answering


def guarded(original: Callable[..., T]) -> Callable[..., T]:
    """Return `original` wrapped to run as inside an autologged call (nothing in it logs)."""

    @functools.wraps(original)
    def run_nested(*args: Any, **kwargs: Any) -> T:
        with nested():
            return original(*args, **kwargs)

    return run_nested


def static_lookup(cls: type, name: str) -> object:
    """Return the raw attribute `name` as the class's MRO defines it, or ABSENT."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    return ABSENT


def tags_of(options: Options, flavor: str) -> dict[str, str]:
    """Tags of a run an integration starts: `mlflow.autologging` and the extra tags."""
    return {TAG_AUTOLOGGING: flavor, **options.extra_tags}


class Integration:
    """One framework's autologging: its options while on, and what it patched."""

    def __init__(self, flavor: str) -> None:
        self.flavor = flavor
        self.options: Any = None  # the Options (subclass) in force; None while off
        # the last configuration came from the framework's own autolog(), not mlflow.autolog()
        # (which then leaves it alone, as MLflow's does)
        self.configured_by_user = False
        self._lock = threading.RLock()
        self._warned: set[str] = set()
        # what was replaced, to put back: (class or module, attribute, its own raw attribute,
        # or ABSENT when the class inherited it)
        self._patches: list[tuple[Any, str, object]] = []
        # folders of the framework's packages whose frames call autologging's callbacks:
        # warn() steps over them too, to the user's line
        self.framework_folders: tuple[str, ...] = ()

    @property
    def enabled(self) -> bool:
        """True while autologging of this framework is on."""
        return self.options is not None

    def configure(self, options: Options | None, patch: Callable[[], None]) -> None:
        """Switch autologging off (options None) or on with these options: everything
        patched before is put back first, then `patch` patches anew (all or nothing)."""
        with self._lock:
            self._warned.clear()
            self.configured_by_user = not _configuring.globally
            if options is not None and self.options is not None:
                # already on: new options, the same patches (put back and made again, they
                # would leave a moment in which another thread's fit runs unpatched while
                # the fits inside it find the new wrappers, and log as runs of their own)
                self.options = options
                return
            self.restore()
            self.options = None
            if options is None:
                return
            try:
                patch()
            except BaseException:
                self.restore()
                raise
            self.options = options

    def add(self, plan: Callable[[], Iterable[tuple[Any, str, object]]]) -> None:
        """While on, make more replacements (a framework package imported after enabling):
        `plan()` lists them; nothing while off."""
        with self._lock:
            if self.options is not None:
                self.replace_all(plan())

    def patched(self, raw: object) -> bool:
        """True if an attribute is one of this integration's wrappers."""
        return getattr(raw, "_reporter_integration", None) is self

    # patching ------------------------------------------------------------------------
    def replace(self, owner: Any, name: str, replacement: object) -> None:
        """Set `owner.name` (a class's or module's attribute), remembering what was there."""
        own = owner.__dict__.get(name, ABSENT) if hasattr(owner, "__dict__") else ABSENT
        setattr(owner, name, replacement)
        self._patches.append((owner, name, own))

    def replace_all(self, plan: Iterable[tuple[Any, str, object]]) -> None:
        """Make every replacement of a plan (worked out before any is made, so that a
        subclass wraps its base's original, not the base's wrapper)."""
        for owner, name, replacement in list(plan):
            self.replace(owner, name, replacement)

    def restore(self) -> None:
        """Put back exactly what was replaced (or remove what was added to a class)."""
        with self._lock:
            while self._patches:
                owner, name, own = self._patches.pop()
                if own is ABSENT:
                    if name in getattr(owner, "__dict__", {}):
                        delattr(owner, name)
                else:
                    setattr(owner, name, own)

    def top_level(
        self,
        original: Callable[..., T],
        logged: Callable[[Any, Callable[..., T], tuple[Any, ...], dict[str, Any]], T],
        invitable: bool = False,
    ) -> Callable[..., T]:
        """Return `original` wrapped: a top-level call while on runs `logged(options,
        original, args, kwargs)` (as inside an autologged call), and so does a nested call
        when `invitable` and this integration invited it (`invite`); any other call is
        plain (a subclass's fit calling its base's patched fit, say)."""

        @functools.wraps(original)  # keeps the signature visible: frameworks inspect it
        def patched(*args: Any, **kwargs: Any) -> T:
            options = self.options
            if options is None:
                return original(*args, **kwargs)
            if not inside():
                return self._logged(None, logged, options, original, args, kwargs)
            context = (_depth.invited or {}).get(self.flavor) if invitable else None
            if context is None:
                return original(*args, **kwargs)
            return self._logged(context, logged, options, original, args, kwargs)

        patched._reporter_integration = self  # type: ignore[attr-defined]
        return patched

    def _logged(
        self,
        context: dict[str, Any] | None,
        logged: Callable[[Any, Callable[..., T], tuple[Any, ...], dict[str, Any]], T],
        options: Any,
        original: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> T:
        """Run `logged` as an autologged call: inside the guard, answering an invitation
        (which its own nested calls do not inherit) or none."""
        invited, answering = _depth.invited, _depth.answering
        _depth.invited, _depth.answering = None, context
        try:
            with nested():
                return logged(options, original, args, kwargs)
        finally:
            _depth.invited, _depth.answering = invited, answering

    # the run a top-level call logs into ---------------------------------------------------
    @contextlib.contextmanager
    def run(self, options: Options) -> Iterator[ActiveRun | None]:
        """The run a top-level call logs into: the active run (None when `exclusive` keeps
        out of it, or when no run could be started: train without logging then), or one
        started for it, ended FINISHED, FAILED if the block raises (KILLED on Ctrl-C)."""
        from reporter.core.entities import RunStatus
        from reporter.tracking import fluent

        active = fluent.active_run()
        if active is not None:
            yield None if options.exclusive else active
            return
        tags = tags_of(options, self.flavor)
        started = self.attempt("start a run", lambda: fluent.start_run(tags=tags))
        if started is None:
            yield None
            return
        run_id = started.info.run_id
        try:
            yield started
        except BaseException as exc:
            killed = isinstance(exc, KeyboardInterrupt) or (  # Lightning: SystemExit on Ctrl-C
                isinstance(exc, SystemExit) and isinstance(exc.__context__, KeyboardInterrupt)
            )
            status = RunStatus.KILLED if killed else RunStatus.FAILED
            self.attempt("end the run", fluent._end, run_id, status)
            raise
        self.attempt("end the run", fluent._end, run_id, RunStatus.FINISHED)

    # failures never reach training ---------------------------------------------------------
    def warn(self, message: str, also_skipped: tuple[str, ...] = ()) -> None:
        """Warn that something could not be recorded (unless silent), at the user's line
        (stepping over reporter's frames, the framework's and `also_skipped` folders')."""
        if self.options is not None and self.options.silent:
            return
        frame = sys._getframe(1)
        level = 2
        skipped = _SKIPPED + self.framework_folders + also_skipped
        while frame.f_back is not None and (
            frame.f_code.co_filename.startswith(skipped) or _importing(frame)
        ):
            frame = frame.f_back
            if not _importing(frame):  # (warnings' stacklevel does not count those)
                level += 1
        text = f"reporter autologging: {message}"
        try:
            warnings.warn(text, AutologgingWarning, stacklevel=level)
        except Warning:  # warnings made errors (-W error): training must still go on
            log.warning(text)

    def warn_once(self, key: str, message: str) -> None:
        """Warn as `warn` does, but only the first time `key` comes up after autolog()."""
        if key in self._warned:
            return
        self._warned.add(key)
        self.warn(message)

    def attempt(self, what: str, func: Callable[..., T], *args: Any) -> T | None:
        """Call func; on failure warn (unless silent) and return None instead of raising."""
        try:
            return func(*args)
        except Exception as exc:
            self.warn(f"could not {what}: {type(exc).__name__}: {exc}")
            return None
