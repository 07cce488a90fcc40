#!/usr/bin/env bash
# The GPU checks of the seq2seq trainer (issue 11), prepared for a lent GPU machine (../.library/device):
# one short script, so one call of the device tool does them all.
#
#   bash scripts/device_check.sh --prepare     # here, once: copies what the GPU machine lacks into .device/
#   # then the device tool: run(command="bash scripts/device_check.sh", carry=[".device"], timeout_s=540)
#
# On the GPU machine it uses the image's own Python packages (torch, transformers, tokenizers, sacrebleu,
# pyarrow, typer: their versions are printed; faiss, Ray and the MiniLM model are not needed) and writes
# under $OUT (default /tmp/device-check):
#   tests.txt            tests/seq2seq/test_cuda.py: loss (2) and its gradients on CUDA equal the CPU's;
#                        a CUDA training resumes and its saved model translates the same on the CPU
#   bench_step_cuda.txt  benchmarks/bench_seq2seq_step.py --device cuda --bf16 --fused 4096: step time and
#                        GPU memory of token LS and semantic m = 1 / m = 5 against plain training, batch
#                        128, in float32, under bfloat16 autocast and with the fused output projection
#   epoch_*.txt          one Multi30k DE->EN epoch of the recipes' model and settings on the GPU: plain,
#                        plain in bf16, and semantic (alpha 0.1, k' 5, m = 5, the GPU grid's setting)
#                        from the DE->EN BLEU-4 table built here: seconds per epoch and validation BLEU
#                        (the GPU grid's budget line, and whether precision: bf16 keeps the BLEU)
set -uo pipefail
cd "$(dirname "$0")/.."
DEVICE_DIR=.device
TABLE=docs/results/runs/multi30k-de-en/tables/de-en/semantic-bleu4.parquet

if [[ "${1:-}" == "--prepare" ]]; then
    set -e
    grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> .git/info/exclude
    raw=$(HF_HUB_OFFLINE=1 .venv/bin/python -c \
        "from textsmooth.sequence import multi30k_root; print(multi30k_root() / 'task1' / 'raw')")
    mkdir -p "$DEVICE_DIR/data/multi30k/task1/raw" "$DEVICE_DIR/tables"
    for split in train val test_2016_flickr; do
        for lang in de en; do cp "$raw/$split.$lang.gz" "$DEVICE_DIR/data/multi30k/task1/raw/"; done
    done
    cp "$TABLE" "$TABLE.manifest.json" "$DEVICE_DIR/tables/"
    du -sh "$DEVICE_DIR"
    exit 0
fi

OUT=${OUT:-/tmp/device-check}
mkdir -p "$OUT"
export PYTHONPATH=$PWD/src HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TEXTSMOOTH_DATA=$PWD/$DEVICE_DIR/data
if [[ ! -f "$DEVICE_DIR/tables/semantic-bleu4.parquet" ]]; then
    echo "no $DEVICE_DIR/tables: run 'bash scripts/device_check.sh --prepare' here and carry .device" >&2
    exit 2
fi
textsmooth() { python3 -c 'import sys; from textsmooth.cli import main; sys.argv[0] = "textsmooth"; main()' "$@"; }
status=0

nvidia-smi -L
python3 -c 'import sacrebleu, tokenizers, torch, transformers
print("torch", torch.__version__, "cuda", torch.version.cuda, "| transformers", transformers.__version__,
      "| tokenizers", tokenizers.__version__, "| sacrebleu", sacrebleu.__version__)' | tee "$OUT/versions.txt"

echo "== tests"
python3 -m pytest -q -p no:cacheprovider tests/seq2seq/test_cuda.py 2>&1 | tee "$OUT/tests.txt" || status=1

echo "== step benchmark"
python3 benchmarks/bench_seq2seq_step.py --device cuda --bf16 --fused 4096 --batch-size 128 --repeats 7 2>&1 \
    | tee "$OUT/bench_step_cuda.txt" || status=1

# the recipes' training settings (recipes/multi30k-de-en.yaml), one epoch
common=(--pair de-en --device cuda --epochs 1 --batch-size 64 --lr 1e-3 --warmup-steps 800 --max-length 64
        --vocab-size 8000 --beam-size 5 --seed 0)
echo "== one epoch, plain"
textsmooth seq2seq train "${common[@]}" --method none -o /tmp/epoch-none 2>&1 \
    | tee "$OUT/epoch_none.txt" || status=1
echo "== one epoch, plain, bf16"
textsmooth seq2seq train "${common[@]}" --method none --precision bf16 -o /tmp/epoch-none-bf16 2>&1 \
    | tee "$OUT/epoch_none_bf16.txt" || status=1
echo "== one epoch, semantic m = 5"
textsmooth seq2seq train "${common[@]}" --method semantic --alpha 0.1 --related-k 5 --related-per-step 5 \
    --table "$DEVICE_DIR/tables/semantic-bleu4.parquet" -o /tmp/epoch-semantic 2>&1 \
    | tee "$OUT/epoch_semantic.txt" || status=1
for run in none none-bf16 semantic; do
    echo "$run: $(cat /tmp/epoch-$run/metrics.jsonl 2>/dev/null)" | tee -a "$OUT/epochs.txt"
done
exit $status
