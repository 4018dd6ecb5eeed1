# The front door. `make serve`: the whole stack on this machine; `make test`: the whole suite.
# Both create the virtualenv Pulumi.yaml names (venv/), so `pulumi up` uses the very same one.
VENV ?= venv
PYTHON ?= python3
STACK ?= dev
PORT ?= 8080
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.PHONY: serve smoke test test-fast lint bench clean

$(STAMP): pyproject.toml requirements-dev.txt
	@echo "==> creating $(VENV) and installing the project (first run takes a few minutes)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check --progress-bar on -r requirements-dev.txt
	$(BIN)/pip install --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

serve: $(STAMP)
	$(BIN)/smodels serve --stack $(STACK) --port $(PORT)

smoke: $(STAMP)
	$(BIN)/smodels smoke --local --stack $(STACK)

test: $(STAMP)
	$(BIN)/python -m pytest $(ARGS)

# The edit loop: everything not marked slow (processes, emulators, real builds) or target (python3.13 runs), on
# one xdist worker per core (WORKERS=0: in this process). About 45 s on two cores; `make test` still runs
# everything, in one process, and is what CI runs.
WORKERS ?= auto
test-fast: $(STAMP)
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -m "not slow and not target" -n $(WORKERS) $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/package.py
	$(BIN)/python bench/zoo.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/drift.py
	$(BIN)/python bench/protocols.py
	$(BIN)/python bench/local_auth.py
	$(BIN)/python bench/publish.py

clean:
	rm -rf .build .pytest_cache
