# shoal: the only makefile. Module source lists live in mk/*.mk.
# make            debug build of build/shoal
# make SANITIZE=address,undefined   sanitizer build (objects in build-san/)
# make test       install deps, build, run the whole suite (build-vg: the
#                 plain build with the test routes, for valgrind: t9100)
# make fuzz       libFuzzer targets (clang, build-fuzz/), FUZZ_SECONDS each
# make demo / demo-down

CC       ?= cc
PKGS     := libuv raft openssl jansson libarchive
# libcurl: headers only; base/dlcurl.c loads it at run time (see there).
HDR_PKGS := libcurl
BUILD    ?= build
ifneq ($(SANITIZE),)
override BUILD := $(BUILD)-san
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
# Test builds carry the debug endpoints (STYLE: never in production).
TESTFLAGS := -DSHOAL_TESTING
endif
# FUZZ=1: every object instrumented for libFuzzer, with ASan and UBSan.
ifneq ($(FUZZ),)
override BUILD := build-fuzz
override CC := clang
SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined \
            -fno-omit-frame-pointer -fno-sanitize-recover=all
TESTFLAGS := -DSHOAL_TESTING
endif

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wold-style-definition -Wformat=2 -Wvla \
            -Wwrite-strings -Wpointer-arith -Wimplicit-fallthrough -fno-common
CFLAGS   := -std=c17 -D_GNU_SOURCE -g -O1 $(WARN) -Isrc \
            $(shell pkg-config --cflags $(PKGS) $(HDR_PKGS) 2>/dev/null) \
            $(SANFLAGS) $(TESTFLAGS) $(EXTRA_CFLAGS)
LDLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lhttp_parser $(SANFLAGS)

SRC :=
include mk/base.mk
include $(filter-out mk/base.mk,$(sort $(wildcard mk/*.mk)))

OBJ      := $(SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(BUILD)/src/main.o
LIB      := $(BUILD)/libshoal.a

.PHONY: all deps test unit check clean demo demo-down bench fuzz fuzz-bin
all: $(BUILD)/shoal $(BUILD)/shoal-monitor

V ?= 0
Q := $(if $(filter 1,$(V)),,@)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(BUILD)/shoal: $(MAIN_OBJ) $(LIB)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -o $@ $^ $(LDLIBS)

$(BUILD)/shoal-monitor: $(MONITOR_SRC) src/monitor/monitor.h
	@$(if $(Q),echo "  LD      $@")
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(MONITOR_CFLAGS) -static -o $@ $(MONITOR_SRC)

# Unit tests: tests/unit/<dir>/test_<stem>.c, each linked with libshoal.a.
UNIT_SRC := $(sort $(wildcard tests/unit/*/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST    $<")
	$(Q)$(CC) $(CFLAGS) -MMD -MP -o $@ $< $(LIB) $(LDLIBS) -lcmocka
unit: $(UNIT_BIN) $(BUILD)/shoal-monitor

# Fuzz targets: tests/fuzz/fuzz_<parser>.c, built with FUZZ=1 (fuzz-bin).
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/tests/fuzz/%)
$(BUILD)/tests/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz_util.h $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZ    $<")
	$(Q)$(CC) $(CFLAGS) -MMD -MP -o $@ $< $(LIB) $(LDLIBS) -fsanitize=fuzzer
fuzz-bin: $(FUZZ_BIN)

FUZZ_SECONDS ?= 60
fuzz:
	$(MAKE) FUZZ=1 fuzz-bin
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./tests/fuzz/run.sh

deps:
	./scripts/install-deps.sh

test: deps
	$(MAKE) all
	$(MAKE) BUILD=build-vg EXTRA_CFLAGS=-DSHOAL_TESTING all
	$(MAKE) SANITIZE=address,undefined all unit
	$(MAKE) FUZZ=1 fuzz-bin
	./tests/run.sh

check: all
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	    --inline-suppr --suppress=missingIncludeSystem -Isrc -D_GNU_SOURCE src

demo: deps all
	./scripts/demo.sh up

demo-down:
	./scripts/demo.sh down

bench:
	./bench/run.sh

clean:
	rm -rf build build-san build-*

-include $(OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(UNIT_BIN:=.d) $(FUZZ_BIN:=.d)
