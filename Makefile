# One command to set up and run the demo, one to set up and pass the tests.
# Both install what they need: apt packages (nginx, haproxy, apache2, golang-go, nodejs,
# openssl) when missing, a venv, the package.

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck system-deps venv clean benchmark benchmark-guard schema

demo: venv
	$(BIN)/mtlsaudit demo

test: system-deps venv lint typecheck
	$(BIN)/pytest -q

system-deps:
	@missing=""; \
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$$missing nginx-light"; \
	command -v openssl >/dev/null 2>&1 || missing="$$missing openssl"; \
	command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing="$$missing haproxy"; \
	[ -x /usr/sbin/apache2 ] || missing="$$missing apache2"; \
	command -v go >/dev/null 2>&1 || missing="$$missing golang-go"; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

lint: venv
	$(BIN)/ruff check src tests

typecheck: venv
	$(BIN)/mypy src

benchmark: venv
	$(BIN)/python benchmarks/bench_scan.py

benchmark-guard: venv
	$(BIN)/python benchmarks/bench_guard.py

schema: venv
	$(BIN)/python -c "from mtlsaudit.report.json import write_schema; write_schema()"

clean:
	rm -rf $(VENV) mtlsaudit-demo .pytest_cache .mypy_cache .ruff_cache
