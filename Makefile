# The two commands of the README: `make demo` and `make test`. Each works on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)
# Debian packages the project needs on top of the base image (PostgreSQL only for the tests).
APT_TEST := postgresql
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
# where the real-media tests find GCompris's and Tux Paint's .debs (fetched by name, never committed)
DEB_CACHE ?= $(HOME)/.cache/vita/debs

.PHONY: demo test test-quick lint setup services wordnet clean tiny-checkpoint

setup: $(STAMP) wordnet

# WordNet 3.0 (Debian's wordnet-base): the names people use for groups of animals ("owls" -> order
# Strigiformes) in search, the pickers and the API. Without it those names are not understood.
wordnet:
	@test -f /usr/share/wordnet/index.noun || { echo "installing wordnet-base (apt-get; names of animal groups)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wordnet-base) >/dev/null \
	  || echo "could not install wordnet-base: group names such as 'owls' will not be understood"; }

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,field,bench]'
	rm -f $(VENV)/.installed-* && touch $@

# PostgreSQL (tests on both databases) and Redis (the production broker's tests): start each
# if it is installed but down, install it with apt-get if it is missing; Debian's chromium for
# the UI's end-to-end test; Debian's docker-compose to check docker-compose.yml (no engine needed).
services:
	@if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then \
	  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then \
	    echo "installing $(APT_TEST) (apt-get)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_TEST)) >/dev/null; \
	    sed -i 's/^\(host.*127.0.0.1\/32\s*\)\S*$$/\1trust/' /etc/postgresql/*/main/pg_hba.conf; \
	  fi; \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start || true; \
	  for i in 1 2 3 4 5 6 7 8 9 10; do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; \
	  psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname='test'" | grep -q 1 \
	    || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE test" >/dev/null; \
	fi
	@if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then \
	  command -v redis-server >/dev/null || { echo "installing redis-server (apt-get)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null; }; \
	  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null; \
	  for i in 1 2 3 4 5; do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 1; done; \
	fi
	@for pkg in gcompris-qt-data tuxpaint-stamps-default; do \
	  ls $(DEB_CACHE)/$${pkg}_*.deb >/dev/null 2>&1 || { echo "fetching $$pkg (real animal media for the tests)"; \
	    mkdir -p $(DEB_CACHE) && (cd $(DEB_CACHE) && apt-get download -qq $$pkg); }; \
	done
	@docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || { echo "installing docker-compose (apt-get; the compose file's check)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose) >/dev/null; }
	@test -x /usr/bin/chromium || { echo "installing chromium (apt-get; the UI's browser test)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; }

demo: setup
	$(BIN)/vita demo

# The shipped tiny checkpoint (encoders/pretrained/tiny), made again from scratch: the default demo
# world in a scratch data dir, the tiny recipe (about 40 minutes on 2 cores), fp16, small-world scores.
TINY_DATA ?= /tmp/vita-tiny-checkpoint
tiny-checkpoint: setup
	rm -rf $(TINY_DATA)
	$(BIN)/vita --data-dir $(TINY_DATA) ingest demo --size default
	$(BIN)/vita --data-dir $(TINY_DATA) train --preset tiny
	$(BIN)/python -m training.ship $(TINY_DATA)/models/tiny

# ruff (pyflakes, pycodestyle, bugbear, isort, pyupgrade, simplify) and mypy with the pydantic plugin
lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

test: setup services lint
	@VITA_TEST_PG_URL=$(PG_URL) VITA_DEB_CACHE=$(DEB_CACHE) VITA_REQUIRE_REAL_MEDIA=1 VITA_REQUIRE_COMPOSE=1 VITA_REQUIRE_WORDNET=1 $(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ] && ! ls tests/test_*.py >/dev/null 2>&1; then rc=0; fi; exit $$rc

# the quick set for a developer (no world-building, training, worker or browser tests; under 2 minutes)
test-quick: setup lint
	$(BIN)/python -m pytest -q -m "not slow and not browser" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) vita-data .pytest_cache test-artifacts
