# PDn Guard: `make run` for the demo, `make test` for the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck pytest eval-pii bench migrate seed clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

var:
	mkdir -p var/broker/processed

migrate: $(STAMP) var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py migrate --noinput --database sandbox

seed: migrate
	$(BIN)/python manage.py sandbox_seed

run: seed
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@echo ""
	@echo "  PDn Guard:          http://127.0.0.1:8000/"
	@echo "  Песочница Битрикс24: http://127.0.0.1:8001/  (sandbox portal, admin: Ирина Админова)"
	@echo ""
	$(BIN)/honcho -f Procfile.dev start

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy .

pytest: $(STAMP)
	PDN_ENV=test $(BIN)/python -m pytest

test: lint typecheck pytest

eval-pii: $(STAMP)
	$(BIN)/python -m pii.evaluate

clean:
	rm -rf var
