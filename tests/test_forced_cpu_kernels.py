"""The tests whose numerics depend on the CPU's kernels, re-run with the AVX2 kernels forced.

bfloat16 autocast goes through oneDNN (AMX or AVX512-BF16 units where the CPU has them, AVX2 code
otherwise) and ATen's vectorised code (AVX-512 or AVX2), and the cosine products through OpenBLAS
(SkylakeX or Haswell kernels). The test suite runs on the host's own kernels; this test runs the
precision tests again in a subprocess with ``ATEN_CPU_CAPABILITY=avx2``, ``ONEDNN_MAX_CPU_ISA=AVX2`` and
``OPENBLAS_CORETYPE=Haswell``, so a host with the newer units also tests the path of hosts without them.
(``tests/similarity/test_top_similar.py`` forces each OpenBLAS kernel for the cosine ties itself.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cpu_flags import cpu_flags

ROOT = Path(__file__).resolve().parents[1]
FORCED = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "OPENBLAS_CORETYPE": "Haswell"}
PRECISION_TESTS = ["tests/training/test_precision.py", "tests/seq2seq/test_precision.py"]


@pytest.mark.skipif("avx2" not in cpu_flags(), reason="this CPU lacks AVX2 (or is not an x86 Linux host)")
def test_the_precision_tests_pass_on_the_avx2_kernels():
    env = {**os.environ, **FORCED}
    probe = "import torch; print(torch.backends.cpu.get_cpu_capability())"
    capability = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    assert capability.stdout.strip() == "AVX2"  # the forced path is the path taken
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *PRECISION_TESTS],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
