# Two commands do everything: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = "0" ] || echo sudo)

.PHONY: run test bench migrate seed shell lint messages frontend clean

$(VENV)/.installed-run: requirements.txt
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed-run requirements-test.txt
	$(PY) -m pip install -q -r requirements-test.txt
	@touch $@

# Debian's Chromium (browser tests) and gettext (makemessages), installed when missing.
system-deps:
	@command -v chromium >/dev/null 2>&1 && command -v msgfmt >/dev/null 2>&1 || \
	  ( $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium gettext >/dev/null )

## Start everything: embedded PostgreSQL + Redis, migrations, demo data, web + worker + beat.
run: $(VENV)/.installed-run
	$(PY) -m saas.run

## Install what the tests need and run the whole suite on its own embedded PostgreSQL + Redis.
test: $(VENV)/.installed-test system-deps
	DJANGO_SETTINGS_MODULE=saas.settings.test $(PY) manage.py compile_catalogs
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-test
	DJANGO_SETTINGS_MODULE=saas.settings.test $(PY) bench/provision.py
	DJANGO_SETTINGS_MODULE=saas.settings.test $(PY) bench/ingest.py
	DJANGO_SETTINGS_MODULE=saas.settings.test $(PY) bench/retrieval.py
	DJANGO_SETTINGS_MODULE=saas.settings.test $(PY) bench/turn.py
	DJANGO_SETTINGS_MODULE=saas.settings.test $(PY) bench/dashboard.py

migrate: $(VENV)/.installed-run
	$(PY) manage.py migrate_schemas

seed: $(VENV)/.installed-run
	$(PY) manage.py seed_demo

## Refresh the gettext catalogs from the code (needs gettext), then fill the new entries.
messages: $(VENV)/.installed-run
	$(PY) manage.py makemessages -l pt_BR -l en -l es --ignore=.venv --ignore=node_modules --ignore=var --ignore=static

## Rebuild static/dist from package.json (needs Node.js; the output is committed).
frontend:
	npm ci && npm run build

clean:
	rm -rf var/test
