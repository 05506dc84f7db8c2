# distillwatch: the two commands a newcomer needs are `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo_out
EVAL_OUT ?= eval_out
EVAL_GENERATOR ?= wide
EVAL_ARGS ?=

.PHONY: install test lint format bench demo eval sample-logs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m bench

sample-logs: $(STAMP)
	$(BIN)/distillwatch simulate --seed 7 --days 2 --format litellm --out sample_logs/litellm-2d.jsonl.gz
	$(BIN)/distillwatch simulate --seed 7 --days 2 --format openai --out sample_logs/openai-2d.jsonl.gz

demo: $(STAMP)
	bash scripts/demo.sh

# leave-one-kind-out evaluation: per-kind table -> $(EVAL_OUT)/loko.md and loko.json
eval: $(STAMP)
	$(BIN)/python -m distillsim.loko --generator $(EVAL_GENERATOR) --out $(EVAL_OUT) $(EVAL_ARGS)

clean:
	rm -rf $(VENV) $(DEMO_OUT) $(EVAL_OUT) .pytest_cache build *.egg-info
