# One-command setup, tests, demo and benchmark. Each target does its own setup.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test lint demo bench clean stack stack-stop

install: $(STAMP)

# Bytecode is compiled at install: where PYTHONDONTWRITEBYTECODE is set, every command would
# otherwise compile its imports anew on each start (twice the start-up of `recon breaks list`).
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip uv
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -r requirements.txt -r requirements-dev.txt
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	touch $(STAMP)
	@echo "installed: $(BIN)/recon"

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy reconciliation plugins dags

test: install
	bash scripts/services.sh
	$(BIN)/ruff check .
	$(BIN)/mypy reconciliation plugins dags
	$(BIN)/python -m pytest -q -n 3 --dist loadfile

demo: install
	$(BIN)/python demo/run_demo.py

# The data path (bench.py) and the workbench's breaks page over 1,000,000 breaks (workbench_bench.py).
bench: install
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/workbench_bench.py --workdir var/bench/workbench

# The production topology on this machine (api-server, scheduler, dag-processor, triggerer, two
# Celery workers; PostgreSQL, Redis db 12, an sshd drop box): left running, UI on 127.0.0.1:8080.
stack: install
	bash scripts/services.sh
	$(BIN)/python -m tests.stack.harness up --port 8080 --redis-db 12 --dir var/stack

stack-stop:
	$(BIN)/python -m tests.stack.harness down --dir var/stack

clean:
	rm -rf var demo-output test-artifacts .pytest_cache .mypy_cache .ruff_cache
