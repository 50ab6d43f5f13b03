# The two commands a new user runs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8080
PHONE_PORT ?= 8550
DEMO_DB ?= demo-data/township.db

.PHONY: demo test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[server]'
	touch $@

$(VENV)/.installed-test: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	@mkdir -p $(dir $(DEMO_DB))
	@$(PY) -m township demo-run --db $(DEMO_DB) --host $(HOST) --port $(PORT) --phone-port $(PHONE_PORT)

test: $(VENV)/.installed-test
	$(PY) -m pytest -q

bench: $(VENV)/.installed-test
	$(PY) bench/sync_bench.py
	$(PY) bench/app_bench.py
	$(PY) bench/office_bench.py
	$(PY) bench/roster_bench.py
	$(PY) bench/attachment_bench.py

clean:
	rm -rf $(VENV) demo-data test-output .pytest_cache .hypothesis
