# The two commands of README.md: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.textsmooth-installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test lint bench venv clean

venv: $(STAMP)

# torch is installed first and pinned: the CPU wheel 2.13.0 is on these machines; an unpinned
# torch would pull gigabytes of CUDA packages.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

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

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
