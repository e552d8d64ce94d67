"""Load apps from references like `module:attr` or `path/to/app.py[:attr]` (as uvicorn does)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING

from ._errors import CLIError, UserCodeError

if TYPE_CHECKING:
    from .. import App

__all__ = ["load_app"]

_DEFAULT_ATTR = "app"


def load_app(reference: str) -> App:
    """Import the module a reference names and return its `App`.

    Raises:
        CLIError: the reference is malformed, or names nothing that is an App.
        UserCodeError: importing the user's module raised.
    """
    from .. import App

    target, attr = _split(reference)
    module = _import(target, reference)
    if attr is None:
        attr = _DEFAULT_ATTR
        if not hasattr(module, attr):
            found = sorted(name for name, value in vars(module).items() if isinstance(value, App))
            hint = (
                f"; it defines App instance(s) {', '.join(found)}: use '{target}:{found[0]}'"
                if found
                else "; define `app = tempest_sdk.App(...)` there, or name another attribute"
            )
            raise CLIError(f"{module.__name__!r} has no attribute 'app'{hint}")
    try:
        value = _resolve(module, attr)
    except AttributeError:
        raise CLIError(
            f"{module.__name__!r} has no attribute {attr!r} (from {reference!r})"
        ) from None
    if not isinstance(value, App):
        raise CLIError(
            f"{reference!r} is a {type(value).__name__}, not a tempest_sdk.App; "
            "point the reference at the App instance"
        )
    return value


def _split(reference: str) -> tuple[str, str | None]:
    # A Windows drive letter ("C:\\x\\app.py") is not an attribute separator.
    head, sep, tail = reference.rpartition(":")
    if not sep or (len(head) == 1 and head.isalpha()) or "/" in tail or "\\" in tail:
        target, attr = reference, None
    else:
        target, attr = head, tail
    if not target or (attr is not None and not attr):
        raise CLIError(
            f"app reference {reference!r} is malformed: "
            "use 'module:attr' or 'path/to/app.py[:attr]'"
        )
    return target, attr


def _import(target: str, reference: str) -> ModuleType:
    if target.endswith(".py") or "/" in target or "\\" in target:
        return _import_path(Path(target), reference)
    # Like `python -m`, resolve modules relative to the working directory.
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name is not None and target.startswith(exc.name):
            raise CLIError(
                f"cannot import {target!r}: no module named {exc.name!r} "
                "(run from the project's folder, or give a path like 'src/app.py')"
            ) from None
        raise _user_error(target, exc) from None
    except Exception as exc:
        raise _user_error(target, exc) from None


def _import_path(path: Path, reference: str) -> ModuleType:
    if not path.is_file():
        raise CLIError(f"no such file: {str(path)!r} (from app reference {reference!r})")
    path = path.resolve()
    # Let the app import its sibling modules, as `python path/to/app.py` would.
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    name = path.stem if path.stem != "__init__" else path.parent.name
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CLIError(f"cannot load {str(path)!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise _user_error(str(path), exc) from None
    return module


def _resolve(module: ModuleType, attr: str) -> object:
    value: object = module
    for part in attr.split("."):
        value = getattr(value, part)
    return value


def _user_error(target: str, exc: BaseException) -> UserCodeError:
    tb = _without_import_machinery(exc.__traceback__)
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    return UserCodeError(f"importing {target!r} raised {type(exc).__name__}: {exc}", text)


def _without_import_machinery(tb: TracebackType | None) -> TracebackType | None:
    # Drop our frames and importlib's so the traceback starts in the user's code.
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename == __file__ or "importlib" in filename or filename.startswith("<frozen"):
            tb = tb.tb_next
            continue
        break
    return tb
