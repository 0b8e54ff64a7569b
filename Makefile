# temper - build everything with `make`, test with `make test`, benchmark with `make bench`.
#
#   make            libraries (build/libtemper.a, build/libtemper.so), CLI (build/temper),
#                   tests, benches
#   make test       all tests, then the unit tests again under ASan + UBSan
#   make bench      benchmarks on random-weight models with real GPT-2 shapes
#   make SAN=1      build into build-san/ with -fsanitize=address,undefined
#   make install    the CLI, library, header and bundled model under PREFIX
#                   (/usr/local; DESTDIR for staging); `make uninstall` undoes it
#   make fuzz       libFuzzer targets (clang) into build-fuzz/, each run FUZZ_TIME s
#
# Sources are found by wildcard: a new .c under src/ joins the library, a new
# tests/unit/test_*.c becomes a test binary, a new bench/bench_*.c a bench.

CC      ?= gcc
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter -Wno-psabi \
           -pthread -fPIC -fvisibility=hidden -Iinclude -Isrc -I/usr/include/cjson
LDLIBS  += -lcjson -lutf8proc -lpcre2-8 -lcurl -lcrypto -lz -llapacke -lm -pthread

ifeq ($(SAN),1)
BUILD   ?= build-san
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
else
BUILD   ?= build
endif

LIB_SRC   := $(shell find src -name '*.c' | sort)
CLI_SRC   := $(wildcard tools/cli/*.c) $(wildcard tools/server/*.c)
TEST_SRC  := $(wildcard tests/unit/test_*.c)
TOOL_SRC  := $(wildcard tests/tools/*.c)
BENCH_SRC := $(wildcard bench/bench_*.c)

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ   := $(CLI_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/web_assets.o
TESTS     := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOLS     := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/%)
BENCHES   := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
DATADIR ?= $(PREFIX)/share/temper
MODELS  := $(wildcard models/*/*)

# The shared library: soname libtemper.so.MAJOR.MINOR (until 1.0 the ABI may
# change between minor versions), only temper_* exported (src/temper.map).
SOVERSION := $(shell sed -n 's/^\#define TEMPER_VERSION_MAJOR //p' include/temper.h).$(shell \
               sed -n 's/^\#define TEMPER_VERSION_MINOR //p' include/temper.h)
SONAME    := libtemper.so.$(SOVERSION)


# libFuzzer targets (tests/fuzz/fuzz_*.c) and the library, built with clang
# and ASan + UBSan into build-fuzz/. `make fuzz` runs each for FUZZ_TIME
# seconds (default 600); `make test` runs each for a few seconds.
FUZZ_CC    ?= clang
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -pthread -Iinclude -Isrc -I/usr/include/cjson \
              -Wno-psabi -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# (clang 14 knows no "f16c" for __builtin_cpu_supports, and refuses 8-lane
# vector helpers without AVX shared by an AVX2 and a baseline variant: the
# fuzz build assumes AVX2 and runs the portable kernels; the readers are
# what it is for)
FUZZ_FLAGS += '-D__builtin_cpu_supports(x)=0'
ifeq ($(shell uname -m),x86_64)
FUZZ_FLAGS += -mavx2 -mfma
endif
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZERS    := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
FUZZ_OBJ   := $(LIB_SRC:%.c=build-fuzz/obj/%.o)
FUZZ_TIME  ?= 600

.PHONY: all lib cli tests benches test test-fast bench clean install uninstall FORCE fuzzers fuzz aarch64
all: lib cli tests benches
lib: $(BUILD)/libtemper.a $(BUILD)/libtemper.so
cli: $(BUILD)/temper
tests: $(TESTS) $(TOOLS)
benches: $(BENCHES)

# Objects are rebuilt when the compiler flags change (the file holds them).
$(BUILD)/cflags: FORCE
	@mkdir -p $(BUILD)
	@echo '$(CC) $(CFLAGS)' | cmp -s - $@ || echo '$(CC) $(CFLAGS)' > $@
FORCE:

$(BUILD)/obj/%.o: %.c $(BUILD)/cflags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# The web explorer (tools/server/web, docs/explorer.md): esbuild bundles it
# into a C table of files compiled into temper. Without its node_modules
# (npm ci there; scripts/setup.sh runs it) temper is built anyway and "/"
# says how to build the explorer. web-state records which of the two was
# built, so that installing the node_modules rebuilds the table.
WEB     := tools/server/web
WEB_SRC := $(WEB)/build.mjs $(WEB)/package-lock.json $(shell find $(WEB)/src -type f 2>/dev/null)
$(BUILD)/web-state: FORCE
	@mkdir -p $(BUILD)
	@st=$$( [ -d $(WEB)/node_modules/esbuild ] && command -v node >/dev/null && echo built || echo missing); \
	  echo $$st | cmp -s - $@ || echo $$st > $@; \
	  [ $$st = built ] || echo "make: the web explorer is not built ($(WEB)/node_modules is missing: (cd $(WEB) && npm ci) && make)" >&2
$(BUILD)/gen/web_assets.c: $(BUILD)/web-state $(WEB_SRC)
	@mkdir -p $(dir $@)
	if [ "$$(cat $<)" = built ]; then node $(WEB)/build.mjs $@; \
	else printf '#include "server.h"\nconst srv_asset srv_web_assets[1];\nconst int srv_web_n_assets = 0;\n' > $@; fi
$(BUILD)/obj/gen/web_assets.o: $(BUILD)/gen/web_assets.c $(BUILD)/cflags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itools/server -c $< -o $@

$(BUILD)/libtemper.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/$(SONAME): $(LIB_OBJ) src/temper.map
	$(CC) -shared $(LDFLAGS) -Wl,-soname,$(SONAME) -Wl,--version-script=src/temper.map \
	    -Wl,--no-undefined -o $@ $(LIB_OBJ) $(LDLIBS)

$(BUILD)/libtemper.so: $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $@

$(BUILD)/temper: $(CLI_OBJ) $(BUILD)/libtemper.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lmicrohttpd

$(BUILD)/tests/%: tests/unit/%.c tests/unit/test.h $(BUILD)/libtemper.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(BUILD)/libtemper.a $(LDLIBS)

$(BUILD)/tests/%: tests/tools/%.c $(BUILD)/libtemper.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libtemper.a $(LDLIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libtemper.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libtemper.a $(LDLIBS)

# aarch64 (NEON kernels), cross-compiled and run under qemu-user by tests/run.
# With Debian's arm64 builds of the third-party libraries installed
# (multiarch, scripts/setup.sh), the whole library is built into
# build-aarch64/ (a sub-make with the cross compiler), with the kernel and
# decoding unit tests and dump_logits, the reference test's tool. Without
# them, a test-only build of the parts that need no third-party library
# (unused sections dropped at link) gives the unit tests alone.
A64_CC    ?= aarch64-linux-gnu-gcc
A64_LIBS  := cjson utf8proc pcre2-8 curl crypto z lapacke
A64_FULL  := $(if $(filter-out $(wildcard $(A64_LIBS:%=/usr/lib/aarch64-linux-gnu/lib%.so)),\
                               $(A64_LIBS:%=/usr/lib/aarch64-linux-gnu/lib%.so)),,1)
A64_TESTS := build-aarch64/tests/test_ops build-aarch64/tests/test_decode
ifeq ($(A64_FULL),1)
aarch64:
	$(MAKE) BUILD=build-aarch64 CC=$(A64_CC) OPT="-O2 -idirafter /usr/include/aarch64-linux-gnu" \
	    $(A64_TESTS) build-aarch64/tests/dump_logits
else ifneq ($(BUILD),build-aarch64)
A64_SRC   := src/core/error.c src/core/file.c src/core/pool.c src/formats/weights.c \
             $(wildcard src/tensor/*.c) $(wildcard src/decode/*.c)
aarch64: $(A64_TESTS)
	@rm -f build-aarch64/tests/dump_logits
	@echo "aarch64: the arm64 libraries (scripts/setup.sh) are missing: the reference test will be skipped"

build-aarch64/tests/%: tests/unit/%.c tests/unit/test.h $(A64_SRC) $(wildcard src/*/*.h) include/temper.h
	@mkdir -p $(dir $@)
	$(A64_CC) -O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter -pthread -Iinclude -Isrc \
	    -I/usr/include/cjson -Itests/unit -ffunction-sections -fdata-sections -Wl,--gc-sections -o $@ $< $(A64_SRC) -lm
endif

# The full suite: unit tests, reference tests, CLI tests, then the unit and
# CLI-error tests again with ASan + UBSan, and the thread pool and kernels
# (test_ops), contexts sharing a pool (test_generate) and the server
# (build-tsan/temper, a short test_server.py run) with ThreadSanitizer.
test: all
	$(MAKE) SAN=1 all
	$(MAKE) fuzzers
	$(MAKE) BUILD=build-tsan OPT="-O1 -fsanitize=thread" LDFLAGS=-fsanitize=thread \
	    build-tsan/tests/test_ops build-tsan/tests/test_generate build-tsan/temper
	if command -v $(A64_CC) >/dev/null && command -v qemu-aarch64 >/dev/null; then $(MAKE) aarch64; fi
	tests/run

fuzzers: $(FUZZERS)

build-fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

build-fuzz/libtemper.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h tests/fuzz/fuzz_tok.h build-fuzz/libtemper.a
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< build-fuzz/libtemper.a $(LDLIBS)

# the server's request parsing: its sources (not serve.c, the CLI's part)
SERVER_FUZZ_SRC := $(filter-out tools/server/serve.c,$(wildcard tools/server/*.c))
# (and no explorer: an empty table of files)
build-fuzz/gen/web_assets.c:
	@mkdir -p $(dir $@)
	printf '#include "server.h"\nconst srv_asset srv_web_assets[1];\nconst int srv_web_n_assets = 0;\n' > $@
build-fuzz/fuzz_server: tests/fuzz/fuzz_server.c tests/fuzz/fuzz.h $(SERVER_FUZZ_SRC) tools/server/server.h \
                        build-fuzz/libtemper.a build-fuzz/gen/web_assets.c
	$(FUZZ_CC) $(FUZZ_FLAGS) -Itools/server -fsanitize=fuzzer -o $@ $< $(SERVER_FUZZ_SRC) \
	    build-fuzz/gen/web_assets.c build-fuzz/libtemper.a $(LDLIBS) -lmicrohttpd

fuzz: fuzzers
	tests/fuzz/run $(FUZZ_TIME)

bench: all
	BUILD=$(BUILD) bench/run

# The CLI finds the bundled models at ../share/temper/models from its own
# folder, so BINDIR and DATADIR must keep that layout (the defaults do).
install: lib cli
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR)
	install -m 755 $(BUILD)/temper $(DESTDIR)$(BINDIR)/temper
	install -m 644 $(BUILD)/libtemper.a $(DESTDIR)$(LIBDIR)/libtemper.a
	install -m 755 $(BUILD)/$(SONAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libtemper.so
	install -m 644 include/temper.h $(DESTDIR)$(INCDIR)/temper.h
	for f in $(MODELS); do \
	    install -d $(DESTDIR)$(DATADIR)/$$(dirname $$f) && \
	    install -m 644 $$f $(DESTDIR)$(DATADIR)/$$f || exit 1; done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/temper $(DESTDIR)$(LIBDIR)/libtemper.a \
	    $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libtemper.so $(DESTDIR)$(INCDIR)/temper.h
	rm -rf $(DESTDIR)$(DATADIR)

clean:
	rm -rf build build-san build-tsan build-fuzz build-aarch64

-include $(shell find $(BUILD)/obj build-fuzz/obj -name '*.d' 2>/dev/null)
