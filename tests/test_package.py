"""The top-level package: lazy public names, nothing else in ``dir()``."""

from __future__ import annotations

import textsmooth


def test_dir_lists_public_names_and_no_import_helpers() -> None:
    names = dir(textsmooth)
    assert set(textsmooth.__all__) <= set(names)
    for helper in ("Any", "TYPE_CHECKING", "importlib", "typing", "annotations"):
        assert helper not in names
    assert not [name for name in names if name.startswith("_") and name != "__version__"]


def test_lazy_names_resolve_and_unknown_names_raise() -> None:
    assert textsmooth.KeywordSmoother.__name__ == "KeywordSmoother"
    try:
        textsmooth.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:  # pragma: no cover - the assertion above is the test
        raise AssertionError("unknown attribute did not raise")
