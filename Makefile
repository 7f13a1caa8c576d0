# Two entry points (see README): `make up` runs the hub with the examples, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA_DIR ?= .data
# Every example but kafka-ml, which needs a Kafka broker (the scale-out profile; see README).
EXAMPLES ?= $(filter-out examples/kafka-ml,$(wildcard examples/*))

.PHONY: up test install check minio-build unit conformance bench clean

$(BIN)/.installed: pyproject.toml
	./deploy/system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

up: install
	$(BIN)/triggerfish server --data-dir $(DATA_DIR) --config deploy/hub.yaml $(EXAMPLES:%=--manifests %)

test: install minio-build check
	$(BIN)/pytest -q

# MinIO's cold build (~6 min on 2 cores) runs in the background at low priority, overlapping the linters
# and the suite (tests marked `minio` run last); their fixture waits for it (deploy/minio.sh holds a
# lock) and reports its errors.
minio-build:
	nice -n 19 ./deploy/minio.sh >/dev/null 2>&1 &

check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

conformance: install
	$(BIN)/triggerfish conformance

bench: install
	$(BIN)/python bench/dag_throughput.py

clean:
	rm -rf $(VENV) $(DATA_DIR) .mypy_cache .ruff_cache .pytest_cache
