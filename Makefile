# Multi-tenant report service.  `make` builds every binary into bin/,
# `make asan` the same with ASan+UBSan into bin/asan/, `make test` runs every
# test, `make up` / `make down` run the local stack.  Targets that need Debian
# packages call `make deps` first, which does nothing when all are present.

SHELL := /bin/bash
CC ?= cc

PKGS := libpq json-c libjwt rdkafka hiredis libcurl libwebsockets \
	libmicrohttpd openssl libcrypt fcgi

VARIANT ?= release
BUILD := build/$(VARIANT)
ifeq ($(VARIANT),asan)
BIN := bin/asan
OPT := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
else
BIN := bin
OPT := -O2 -g
endif

# Lazy (=): pkg-config runs only inside recipes, after `deps` has run.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS))
CFLAGS_ALL = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
	-Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -fvisibility=hidden -Ilib -Itests/unit $(OPT) $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(OPT) -Wl,--as-needed $(LDFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lpthread -ldl -lm

LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIBA := $(BUILD)/libapp.a

# Programs and their sources.
PROGS := graphql-fcgi report-worker ws-relay mock-providers reportsvc-admin \
	kafka-mock gql-tool fcgi-hello bench-gql bench-bcrypt fcgi-select
graphql-fcgi_SRC := $(wildcard cgi/*.c)
report-worker_SRC := $(wildcard worker/*.c)
ws-relay_SRC := $(wildcard relay/*.c)
mock-providers_SRC := $(wildcard providers/*.c)
reportsvc-admin_SRC := tools/admin.c tools/seed.c
kafka-mock_SRC := tools/kafka-mock.c
gql-tool_SRC := tools/gql-tool.c
fcgi-hello_SRC := bench/fcgi_hello.c bench/fcgi_pool.c
bench-gql_SRC := bench/gql_cpu.c
bench-bcrypt_SRC := bench/bcrypt_ceiling.c
fcgi-select_SRC := bench/fcgi_select.c bench/fcgi_pool.c

PROG_BINS := $(foreach p,$(PROGS),$(if $(wildcard $($(p)_SRC)),$(BIN)/$(p)))

# Unit tests: one executable per module, no servers.
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/bin/%)
# C integration tests: run by tools/run-tests.sh against the private stack.
ITEST_SRC := $(wildcard tests/integration/c/test_*.c)
ITEST_BINS := $(ITEST_SRC:tests/integration/c/%.c=$(BUILD)/tests/ibin/%)

.PHONY: all build asan deps test unit integration up down status logs \
	clean fuzz fuzz-build bench migrate
.DEFAULT_GOAL := all
# Keep objects that pattern rules made on the way (faster rebuilds).
.SECONDARY:

all: deps
	@$(MAKE) --no-print-directory build VARIANT=release

asan: deps
	@$(MAKE) --no-print-directory build VARIANT=asan

build: $(PROG_BINS) $(UNIT_BINS) $(ITEST_BINS)

deps:
	@tools/deps.sh

# V=1 shows the full commands.
Q = $(if $(V),,@)

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

# Objects of program $(1); a function so that its '%' is not the rule's stem.
objs_of = $(patsubst %.c,$(BUILD)/%.o,$($(1)_SRC))

.SECONDEXPANSION:
$(BIN)/%: $$(call objs_of,$$*) $(LIBA)
	@mkdir -p $(@D)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $(filter %.o,$^) $(LIBA) $(LDLIBS_ALL)

$(BUILD)/tests/bin/%: $(BUILD)/tests/unit/%.o $(LIBA)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(LIBA) $(LDLIBS_ALL)

$(BUILD)/tests/ibin/%: $(BUILD)/tests/integration/c/%.o $(LIBA)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $< $(LIBA) $(LDLIBS_ALL)

# Unit tests under ASan+UBSan, then integration tests against a private stack.
test: deps
	@$(MAKE) --no-print-directory build VARIANT=asan
	@$(MAKE) --no-print-directory build VARIANT=release
	@$(MAKE) --no-print-directory $(FUZZERS)
	@tools/run-tests.sh

unit: deps
	@$(MAKE) --no-print-directory build VARIANT=asan
	@tools/run-tests.sh unit

integration: all
	@tools/run-tests.sh integration

up: all
	@tools/stack.sh up

down:
	@tools/stack.sh down

status:
	@tools/stack.sh status

logs:
	@tools/stack.sh logs

# Applies missing migrations to the master and every tenant database of the
# local stack (elsewhere: run bin/reportsvc-admin migrate with the service's
# environment).
migrate: all
	@tools/stack.sh admin migrate

# libFuzzer targets (clang).  `make fuzz` runs each for FUZZ_SECS; the test
# suite runs them briefly.  Warnings are not errors here: clang's set
# differs from gcc's, which the normal build holds to -Werror.
FUZZ_SECS ?= 300
FUZZ_DIR := build/fuzz
FUZZERS := $(FUZZ_DIR)/fuzz_gql_parse $(FUZZ_DIR)/fuzz_http_decode \
	$(FUZZ_DIR)/fuzz_tokens $(FUZZ_DIR)/fuzz_events
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 \
	-D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Ilib -Icgi \
	-Itests/unit $(PKG_CFLAGS)

# Each target is its harness plus the library; a harness of a cgi part
# names that file too.
$(FUZZ_DIR)/fuzz_http_decode: cgi/gqlhttp.c
$(FUZZERS): $(FUZZ_DIR)/%: tests/fuzz/%.c $(LIB_SRC)
	@mkdir -p $(@D)
	@echo "  FUZZ    $@"
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread -ldl -lm

fuzz-build: deps
	@$(MAKE) --no-print-directory $(FUZZERS)

fuzz: fuzz-build
	tools/fuzz.sh $(FUZZ_SECS)

# Benchmarks print their figures next to a ceiling measured in the same run.
BENCHES := gql-cpu graphql-http accounts reports worker pipeline relay tenants

bench: all
	@for b in $(BENCHES); do \
		if [ -x bench/$$b.sh ]; then echo "== bench/$$b.sh"; bench/$$b.sh || exit 1; fi; \
	done

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
