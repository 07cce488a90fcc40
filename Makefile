# The two commands of README.md: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.textsmooth-installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

LOCK := requirements.lock
# Every extra (pyproject.toml) plus the test tools: the demo and the tests use them all.
EXTRAS := all,dev

.PHONY: demo test lint bench venv lock clean

venv: $(STAMP)

# Installs exactly the versions in requirements.lock (a pip constraints file), so a fresh machine gets
# what CI tested. torch is installed first and pinned: the CPU wheel 2.13.0 is on these machines; an
# unpinned torch would pull gigabytes of CUDA packages. The last step fails if the venv differs from the lock.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c $(LOCK) torch==2.13.0
	$(BIN)/pip install -q -c $(LOCK) -e '.[$(EXTRAS)]'
	$(BIN)/python scripts/lock.py check $(LOCK)
	touch $(STAMP)

# Refresh the lock on purpose: resolve the newest releases pyproject.toml allows in a throw-away venv,
# then write their versions to requirements.lock. Run `make test` afterwards and commit the lock with it.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install -q torch==2.13.0
	.lock-venv/bin/pip install -q -e '.[$(EXTRAS)]'
	.lock-venv/bin/python scripts/lock.py write .lock-venv $(LOCK)
	rm -rf .lock-venv

demo: $(STAMP)
	$(BIN)/textsmooth demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts examples
	$(BIN)/ruff format --check src tests benchmarks scripts examples

test: lint
	$(BIN)/pytest -q

# Quick versions of every benchmark (minutes). The full runs, with the commands quoted in docs/, take
# much longer: python benchmarks/bench_kwls.py --repeats 5, python benchmarks/bench_losses.py, ...
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_kwls.py --quick --repeats 2
	$(BIN)/python benchmarks/bench_losses.py --quick
	$(BIN)/python benchmarks/bench_bleu.py --repeats 1 --sample 500
	$(BIN)/python benchmarks/bench_neighbors.py --sections rerank --rerank-sizes 290000
	$(BIN)/python benchmarks/bench_seq2seq_step.py --quick
	$(BIN)/python benchmarks/bench_similarity_table.py --quick
	$(BIN)/python benchmarks/bench_similarity_losses.py --quick

clean:
	rm -rf $(VENV) .lock-venv .pytest_cache .ruff_cache
