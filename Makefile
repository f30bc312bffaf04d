# mailgate — see README.md
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= mailgate.toml

.PHONY: install run test lint typecheck bench corpus clean

$(BIN)/mailgate: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	# flanker rewrites its parser tables on first import: do it once, at install time.
	$(BIN)/python -c "import flanker.addresslib.address" 2>/dev/null
	touch $(BIN)/mailgate

install: $(BIN)/mailgate

run: install
	# ./mailgate.toml when present, else the demo organisation the check examples use (demo.example.cn)
	$(BIN)/mailgate serve --config $(if $(wildcard $(CONFIG)),$(CONFIG),checks/examples/mailgate.toml)

test: install lint typecheck
	$(BIN)/pytest -q
	@# .ci/run starts PostgreSQL and sets MAILGATE_TEST_PG: every test that keeps a store (marked
	@# "store" by tests/conftest.py: API, relay, no-loss, schema) then runs again, each on its own
	@# new PostgreSQL database. The engine's tests never touch a store; browser tests run once.
	@if [ -n "$$MAILGATE_TEST_PG" ]; then echo "== the store tests again, on PostgreSQL"; $(BIN)/pytest -q -m "store and not browser"; fi

lint: install
	$(BIN)/ruff check mailgate checks tests bench

typecheck: install
	$(BIN)/mypy

corpus: install
	$(PY) ../shared/tools/corpus_eval.py ../shared/corpus/dev --mailgate $(BIN)/mailgate

bench: install
	$(BIN)/python bench/lint_throughput.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
