# The two set-up commands in the README are `make demo` and `make test`; every other target serves them.
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
# Pass extra pytest arguments with `make test PYTEST_ARGS="-m 'not cluster'"`.
PYTEST_ARGS ?=

.PHONY: setup system-packages control-plane demo test lint

setup: system-packages
	$(PIP) install --quiet -e '.[dev]'

# Debian's HAProxy and Prometheus: the standalone demo and the `prometheus` tests run the real servers.
system-packages:
	@missing=""; \
	command -v haproxy >/dev/null 2>&1 || missing="$$missing haproxy"; \
	command -v prometheus >/dev/null 2>&1 || missing="$$missing prometheus"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# Builds etcd, kube-apiserver, controller-manager, scheduler, kwok and kubectl from Go modules into
# ~/.cache/canaryd; skips what is already built.
control-plane:
	bash hack/build-control-plane.sh

demo: setup
	canaryd demo

test: setup control-plane
	bash hack/run-tests.sh $(PYTEST_ARGS)

lint:
	ruff check canaryd tests
	lint-imports
