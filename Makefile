# Ping'an Hub. `make demo` and `make test` each do all of their own set-up (scripts/setup.sh):
# system packages with apt-get where missing, then .venv with the hub installed editable.

VENV    := .venv
BIN     := $(VENV)/bin
# Lint only the folders that exist in this checkout (git keeps no empty folders).
SOURCES := $(wildcard hub drivers simulators tests bench)

.PHONY: demo test lint typecheck pytest bench setup-demo setup-test clean

## run the hub on its embedded defaults with simulated alarm devices: http://127.0.0.1:8080
demo: setup-demo
	$(BIN)/hub demo

## lint, type-check and run the test suite; fails if any of the three fails
test: setup-test
	@failed=""; \
	$(MAKE) --no-print-directory lint      || failed="$$failed lint"; \
	$(MAKE) --no-print-directory typecheck || failed="$$failed typecheck"; \
	$(MAKE) --no-print-directory pytest    || failed="$$failed pytest"; \
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed" >&2; exit 1; fi; \
	echo "make test: lint, typecheck and pytest passed"

lint: setup-test
	$(BIN)/ruff check $(SOURCES)

typecheck: setup-test
	$(BIN)/mypy

# pytest exits 5 when it collected no tests: that is a failure here, not a pass.
pytest: setup-test
	@$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest: no tests were collected" >&2; exit 1; fi; \
	exit $$rc

## benchmarks, written into docs/benchmarks.md (BENCH_ARGS=--quick for a short smoke run)
bench: setup-test
	@if [ -f bench/run_all.py ]; then $(BIN)/python -m bench.run_all $(BENCH_ARGS); \
	else echo "bench: bench/run_all.py does not exist yet" >&2; exit 1; fi

setup-demo:
	@bash scripts/setup.sh demo

setup-test:
	@bash scripts/setup.sh test

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
