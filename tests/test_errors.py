"""Every error saewidgets raises on purpose has one base, `sw.SAEWidgetsError`."""

import importlib
import inspect
import pkgutil

import saewidgets
import saewidgets as sw


def _project_exceptions() -> list[type]:
    found = {}
    for info in pkgutil.walk_packages(saewidgets.__path__, "saewidgets."):
        if info.name == "saewidgets.__main__":
            continue
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__.startswith("saewidgets."):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return list(found.values())


def test_every_project_error_derives_from_the_base():
    errors = _project_exceptions()
    assert len(errors) >= 16  # the checker found them (there were 16 classes before the base)
    # TaskCancelled is control flow inside the widgets' task runner, never raised to users
    stray = [e.__qualname__ for e in errors if not issubclass(e, sw.SAEWidgetsError)]
    assert stray == ["TaskCancelled"], stray


def test_errors_keep_their_builtin_base():
    # code that caught ValueError / RuntimeError before the base existed still catches them
    assert issubclass(sw.SAEConfigError, ValueError)
    assert issubclass(sw.StatsMismatch, ValueError)
    assert issubclass(sw.ModelLoadError, RuntimeError)
    assert issubclass(sw.corpus.CorpusTooSmall, ValueError)
