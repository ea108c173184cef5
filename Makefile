# The two commands a newcomer runs: `make demo` and `make test`. Both set everything up.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.aegan-installed
# the benchmark's own environment: pythae, the peer in the speed table, is never installed into .venv
BENCH_VENV  := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed

.PHONY: demo test bench bench-quick data browser postgres readme-pictures clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# Fashion-MNIST from Debian's package where we can; otherwise one line saying how.
data:
	@sh scripts/get-data.sh

# Chromium for the report's browser test, the same way.
browser:
	@sh scripts/get-browser.sh

# PostgreSQL for the test of a tuning study shared through a database, the same way.
postgres:
	@sh scripts/get-postgres.sh

demo: $(STAMP) data
	@sh scripts/demo.sh

# test files spread over one worker process per core, at most 4 (pytest-xdist; a file's tests stay together)
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; echo $$n)

test: $(STAMP) data browser postgres
	$(PY) -m pytest -q -rs -n $(TEST_WORKERS) --dist loadfile --durations=15

# the README's pictures, from the latest `make demo`
readme-pictures:
	@sh scripts/readme-pictures.sh

$(BENCH_STAMP):
	@test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	@$(BENCH_VENV)/bin/python -m pip install --quiet torch==2.13.0 pythae==0.1.2 && touch $@ \
	  || echo "pythae could not be installed into $(BENCH_VENV); the speed table will say so"

bench: $(STAMP) $(BENCH_STAMP) data
	$(PY) benchmarks/run.py

bench-quick: $(STAMP) data
	$(PY) benchmarks/run.py --quick --out /tmp/BENCHMARKS.quick.md

clean:
	rm -rf $(VENV) $(BENCH_VENV) runs .pytest_cache
