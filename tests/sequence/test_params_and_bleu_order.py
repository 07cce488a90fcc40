"""One parameter protocol for every generator; one meaning of ``bleu_order`` 0 / ``None``."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from textsmooth.cli import app
from textsmooth.errors import ConfigError
from textsmooth.sequence import SemanticNeighbors, TokenSwapTargets, WithinBatchTargets
from textsmooth.targets.classic import UniformSmoother

TARGETS = ["a man rides a brown horse", "two dogs play in the snow", "a woman reads a red book", "kids run"]


def test_get_params_are_the_constructor_arguments_in_order():
    assert list(SemanticNeighbors().get_params()) == [
        "k", "keep", "bleu_order", "encoder", "index", "embed_side", "duplicates", "smooth_method",
        "tokenize", "lowercase", "shard_size", "block_size", "hnsw_m", "ef_search", "num_threads",
        "with_text", "min_cosine",
    ]  # fmt: skip
    assert WithinBatchTargets(8, keep=2).get_params() == {
        "batch_size": 8,
        "bleu_order": 4,
        "keep": 2,
        "seed": 0,
    }
    assert TokenSwapTargets(3, tau=1.0).get_params() == {
        "n_samples": 3, "tau": 1.0, "bleu_order": 4, "keep": None, "seed": 0,
    }  # fmt: skip
    assert list(UniformSmoother(epsilon=0.2).get_params())[:1] == ["epsilon"]


@pytest.mark.parametrize("generator", [SemanticNeighbors(), WithinBatchTargets(), TokenSwapTargets()])
def test_set_params_sets_and_refuses_unknown_names(generator):
    assert generator.set_params(keep=3) is generator and generator.get_params()["keep"] == 3
    with pytest.raises(ConfigError, match=r"has no parameter 'k3' \(valid parameters: "):
        generator.set_params(k3=1)


def test_zero_and_none_mean_no_bleu_for_within_batch():
    batches = np.array([0, 0, 0, 1])
    tables = [WithinBatchTargets(bleu_order=o).fit(TARGETS, batches=batches).table_ for o in (None, 0)]
    assert np.isnan(tables[0].bleu).all() and np.isnan(tables[1].bleu).all()
    np.testing.assert_array_equal(tables[0].neighbor_id, tables[1].neighbor_id)


@pytest.mark.parametrize("order", [None, 0])
def test_token_swap_refuses_no_bleu_instead_of_using_bleu4(order):
    with pytest.raises(ConfigError, match=r"column 'bleu_order'.*must be >= 1, got"):
        TokenSwapTargets(bleu_order=order).fit(TARGETS)


def test_cli_refuses_bleu_order_0_for_token_swap_and_says_so_in_help(tmp_path):
    targets = tmp_path / "t.en"
    targets.write_text("\n".join(TARGETS) + "\n")
    out = tmp_path / "swap.parquet"
    args = ["neighbors", str(targets), "-o", str(out), "--method", "token-swap", "--bleu-order", "0"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0 and "option --bleu-order" in result.output and not out.exists()
    help_text = " ".join(CliRunner().invoke(app, ["neighbors", "build", "--help"]).output.split())
    assert "token-swap ranks its copies by BLEU and refuses 0" in help_text.replace("│ ", "")
