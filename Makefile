# Quick start: `make demo` then `make test`. Both create .venv and install on a fresh machine.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	# --no-compile: byte-compiling every installed module (torch's thousands) was 58 of the install's
	# 82 s on a 2-core machine; Python compiles the modules it imports when it first needs them
	$(BIN)/pip install --quiet --no-compile -e '.[all,dev]'
	touch $(STAMP)

install: $(STAMP)

# One torch thread per process, one process per core (the tasks run side by side; see aigc/demo.py).
demo: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python -m aigc.demo --out runs/demo

# Tiny models run fastest on one thread per process; pytest-xdist then uses every core.
test: $(STAMP)
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n auto --durations=15 tests

bench: $(STAMP)
	$(BIN)/python benchmarks/trainer_overhead.py

clean:
	rm -rf $(VENV) runs build *.egg-info src/*.egg-info
