# pulse-lua: see README.md. `make deps` installs what the build needs (Debian).

VERSION      = 0.1.0
PREFIX      ?= /usr/local
LUA_VERSION  = 5.4
LUA_PC      ?= lua$(LUA_VERSION)
LUA         ?= lua$(LUA_VERSION)
BUSTED      ?= $(LUA) /usr/bin/busted
LUA_LMOD    ?= $(PREFIX)/share/lua/$(LUA_VERSION)
LUA_CMOD    ?= $(PREFIX)/lib/lua/$(LUA_VERSION)
BUILD       ?= build
V           ?= 0
ifeq ($(V),0)
Q            = @
endif

CC          ?= cc
CFLAGS      ?= -O2 -g
WARNINGS    ?= -Wall -Wextra -Wshadow -Wstrict-prototypes
PKG_CFLAGS  := $(shell pkg-config --cflags $(LUA_PC) libcurl libmicrohttpd)
LDFLAGS     ?= -Wl,-O1 -Wl,--as-needed
SRC_DIRS     = core net binding embed runner sandbox
ALL_CFLAGS   = -std=c11 -D_GNU_SOURCE -DPULSE_VERSION='"$(VERSION)"' $(addprefix -Isrc/,$(SRC_DIRS)) $(WARNINGS) \
               $(PKG_CFLAGS) $(CFLAGS)

HAVE_READLINE := $(shell pkg-config --exists readline && echo yes)
ifeq ($(HAVE_READLINE),yes)
RUNNER_CFLAGS = -DPULSE_USE_READLINE
RUNNER_LIBS   = $(shell pkg-config --libs readline)
endif

CJSON_LIBS   = -l:liblua$(LUA_VERSION)-cjson.a
LIBS         = $(shell pkg-config --libs $(LUA_PC) libcurl libmicrohttpd) $(CJSON_LIBS) -lpthread -lm

DEB_PACKAGES = build-essential pkg-config lua$(LUA_VERSION) liblua$(LUA_VERSION)-dev \
               libcurl4-openssl-dev libmicrohttpd-dev lua-cjson lua-cjson-dev lua-busted \
               libreadline-dev lua-check clang-format curl openssl ca-certificates luarocks \
               clang libclang-rt-14-dev valgrind nginx-light

# The C core, shared by pulse/core.so, pulse-lua and pulse-sandbox.
CORE_SRC     = src/core/buf.c src/core/clock.c src/core/json_decode.c src/core/json_encode.c src/net/transport.c \
               src/net/engine.c src/core/ratelimit_headers.c src/core/header_block.c src/core/ratelimit.c src/core/retry.c \
               src/core/request_stats.c src/binding/core.c src/binding/response.c
LUA_SRC      = $(shell find lua -name '*.lua' | sort)

CORE_PIC     = $(CORE_SRC:src/%.c=$(BUILD)/pic/%.o)
CORE_OBJ     = $(CORE_SRC:src/%.c=$(BUILD)/obj/%.o)
PROGRAM_OBJ  = $(BUILD)/obj/embed/modules.o $(BUILD)/obj/modules_data.o $(BUILD)/obj/sandbox/server.o
HEADERS      = $(wildcard src/*/*.h)

.PHONY: all test bench install uninstall clean deps lint format rock check-asan check-valgrind fuzz

all: $(BUILD)/pulse/core.so $(BUILD)/pulse-lua $(BUILD)/pulse-sandbox

$(BUILD)/pic/%.o: src/%.c $(HEADERS)
	@mkdir -p $(@D)
	@echo "  CC (pic) $<"
	$(Q)$(CC) $(ALL_CFLAGS) -fPIC -c $< -o $@

$(BUILD)/obj/%.o: src/%.c $(HEADERS)
	@mkdir -p $(@D)
	@echo "  CC       $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/runner/pulse_lua.o: src/runner/pulse_lua.c $(HEADERS)
	@mkdir -p $(@D)
	@echo "  CC       $<"
	$(Q)$(CC) $(ALL_CFLAGS) $(RUNNER_CFLAGS) -c $< -o $@

$(BUILD)/modules_data.c: tools/embed.lua $(LUA_SRC)
	@mkdir -p $(@D)
	@echo "  EMBED    lua/ -> $@"
	$(Q)$(LUA) tools/embed.lua $@ $(LUA_SRC)

$(BUILD)/obj/modules_data.o: $(BUILD)/modules_data.c src/embed/modules.h
	@echo "  CC       $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/pulse/core.so: $(CORE_PIC)
	@mkdir -p $(@D)
	@echo "  LD       $@"
	$(Q)$(CC) -shared $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs libcurl) -lm

$(BUILD)/pulse-lua: $(BUILD)/obj/runner/pulse_lua.o $(PROGRAM_OBJ) $(CORE_OBJ)
	@echo "  LD       $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(RUNNER_LIBS)

$(BUILD)/pulse-sandbox: $(BUILD)/obj/sandbox/main.o $(PROGRAM_OBJ) $(CORE_OBJ)
	@echo "  LD       $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

test: all
	$(BUSTED)

# The whole suite with AddressSanitizer and UBSan: an instrumented pulse-lua
# (pulse.core compiled in) runs busted, against instrumented sandboxes.
SANITIZE     = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
check-asan:
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g $(SANITIZE) -Werror" LDFLAGS="$(SANITIZE)" all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		PULSE_BUILD=build-asan build-asan/pulse-lua /usr/bin/busted

# A representative part of the suite under valgrind's memcheck: the runner
# (pulse.core built in) runs the JSON, URL, client, rate-limit, retry and
# batch specs, against sandboxes that run under memcheck too, leaving out
# the few tests that bound wall-clock time (tagged #timing). Zero errors and
# zero definite leaks, or it fails.
VALGRIND      = valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
                --show-leak-kinds=definite
VALGRIND_SPECS = spec/json_spec.lua spec/url_spec.lua spec/client_spec.lua spec/ratelimit_spec.lua spec/retry_spec.lua \
                 spec/batch_spec.lua
check-valgrind: all
	PULSE_SANDBOX_WRAPPER="$(VALGRIND)" $(VALGRIND) $(BUILD)/pulse-lua /usr/bin/busted --exclude-tags=timing \
		$(VALGRIND_SPECS)

# libFuzzer targets for every C parser of outside input; FUZZ_SECONDS each.
FUZZ_SECONDS ?= 30
FUZZ_TARGETS  = json_decode ratelimit_headers url
FUZZ_SRC_json_decode       = src/core/json_decode.c
FUZZ_SRC_ratelimit_headers = src/core/ratelimit_headers.c src/core/header_block.c src/core/ratelimit.c
FUZZ_SRC_url               = $(shell pkg-config --cflags --libs $(LUA_PC))
fuzz:
	@mkdir -p build-fuzz
	@for t in $(FUZZ_TARGETS); do \
		case $$t in \
		json_decode) srcs="$(FUZZ_SRC_json_decode)";; \
		ratelimit_headers) srcs="$(FUZZ_SRC_ratelimit_headers)";; \
		url) srcs="$(FUZZ_SRC_url)";; \
		esac; \
		echo "  FUZZ     $$t"; \
		clang -g -O1 -std=c11 -D_GNU_SOURCE -Isrc/core -fsanitize=fuzzer,address,undefined \
			-fno-sanitize-recover=undefined src/fuzz/$${t}_fuzz.c $$srcs -lm -o build-fuzz/$$t || exit 1; \
		mkdir -p build-fuzz/corpus-$$t; \
		build-fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			build-fuzz/corpus-$$t src/fuzz/corpus/$$t > build-fuzz/$$t.log 2>&1; rc=$$?; \
		grep -E "^Done|stat::number_of_executed_units" build-fuzz/$$t.log; \
		if [ $$rc -ne 0 ]; then tail -40 build-fuzz/$$t.log; exit 1; fi; \
	done

$(BUILD)/bench/%: bench/%.c bench/plain.h
	@mkdir -p $(@D)
	@echo "  CC       $<"
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE $(WARNINGS) -O2 $< -o $@ $(shell pkg-config --libs libcurl)

# nginx (Debian nginx-light, which make deps installs) serves the benchmarks'
# file; without it, the sandbox does.
bench: all $(BUILD)/bench/plain_get $(BUILD)/bench/plain_multi
	$(BUILD)/pulse-lua bench/transport.lua
	$(BUILD)/pulse-lua bench/concurrency.lua
	$(BUILD)/pulse-lua bench/goodput.lua

lint:
	luacheck lua spec examples tools $(wildcard bench/*.lua)
	clang-format --dry-run --Werror src/*/*.c src/*/*.h $(wildcard bench/*.c bench/*.h)

format:
	clang-format -i src/*/*.c src/*/*.h $(wildcard bench/*.c bench/*.h)

install: all
	install -d $(DESTDIR)$(LUA_CMOD)/pulse $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BUILD)/pulse/core.so $(DESTDIR)$(LUA_CMOD)/pulse/core.so
	install -m 755 $(BUILD)/pulse-lua $(BUILD)/pulse-sandbox $(DESTDIR)$(PREFIX)/bin/
	for f in $(LUA_SRC); do \
		install -D -m 644 $$f $(DESTDIR)$(LUA_LMOD)/$${f#lua/} || exit 1; \
	done

uninstall:
	rm -rf $(DESTDIR)$(LUA_CMOD)/pulse $(DESTDIR)$(LUA_LMOD)/pulse
	rm -f $(DESTDIR)$(PREFIX)/bin/pulse-lua $(DESTDIR)$(PREFIX)/bin/pulse-sandbox

# Builds the rockspec into a local tree, as a LuaRocks user would. Debian
# keeps curl.h under the multiarch include directory, where LuaRocks does
# not look by itself.
ROCK_TREE ?= $(BUILD)/rocks
rock:
	luarocks --lua-version $(LUA_VERSION) make --tree $(ROCK_TREE) rockspec/pulse-lua-scm-1.rockspec \
		CURL_INCDIR=/usr/include/$(shell $(CC) -print-multiarch)
	LUA_PATH="$(ROCK_TREE)/share/lua/$(LUA_VERSION)/?.lua;$(ROCK_TREE)/share/lua/$(LUA_VERSION)/?/init.lua" \
	LUA_CPATH="$(ROCK_TREE)/lib/lua/$(LUA_VERSION)/?.so" \
		$(LUA) -e 'local p = require("pulse") assert(p.run(function() return p.json.encode({1}) end) == "[1]")' \
		-e 'print("rock ok", require("pulse").VERSION)'

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi

clean:
	rm -rf $(BUILD) build-asan build-fuzz
