# pulse-lua: see README.md. `make deps` installs what the build needs (Debian).

include src/sources.mk

VERSION      = $(PULSE_VERSION)
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
LDFLAGS     ?= -Wl,-O1 -Wl,--as-needed

# Each asks pkg-config once, when a rule first needs it (make deps runs
# before the packages are there). The rockspec sets them itself.
lazy = $(eval $(1) := $$(shell $(2)))$($(1))
LUA_CFLAGS   = $(call lazy,LUA_CFLAGS,pkg-config --cflags $(LUA_PC))
CURL_CFLAGS  = $(call lazy,CURL_CFLAGS,pkg-config --cflags libcurl)
CURL_LIBS    = $(call lazy,CURL_LIBS,pkg-config --libs libcurl)
MHD_CFLAGS   = $(call lazy,MHD_CFLAGS,pkg-config --cflags libmicrohttpd)
MHD_LIBS     = $(call lazy,MHD_LIBS,pkg-config --libs libmicrohttpd)
REDIS_CFLAGS = $(call lazy,REDIS_CFLAGS,pkg-config --cflags hiredis)
REDIS_LIBS   = $(call lazy,REDIS_LIBS,pkg-config --libs hiredis)
ALL_CFLAGS   = -std=c11 -D_GNU_SOURCE -DPULSE_VERSION='"$(VERSION)"' -Isrc -I$(BUILD)/gen -MMD -MP $(WARNINGS) \
               $(LUA_CFLAGS) $(CURL_CFLAGS) $(REDIS_CFLAGS) $(CFLAGS)

# Line editing in pulse-lua -i, when readline is there.
RUNNER_CFLAGS = $(call lazy,RUNNER_CFLAGS,pkg-config --exists readline && echo -DPULSE_USE_READLINE)
RUNNER_LIBS   = $(call lazy,RUNNER_LIBS,pkg-config --exists readline && pkg-config --libs readline)

CJSON_LIBS   = -l:liblua$(LUA_VERSION)-cjson.a

# The programs link Lua's core in, as Debian's lua5.4 does: its calls then
# go through no PLT (a 2 KB JSON decode: 9.3 -> 7.8 us). -E exports the
# Lua C API to the C modules a script requires.
LUA_STATIC   = -Wl,-E -l:liblua$(LUA_VERSION).a

DEB_PACKAGES = build-essential pkg-config lua$(LUA_VERSION) liblua$(LUA_VERSION)-dev \
               libcurl4-openssl-dev libmicrohttpd-dev lua-cjson lua-cjson-dev lua-busted \
               libreadline-dev lua-check clang-format curl openssl ca-certificates luarocks \
               clang libclang-rt-14-dev valgrind nginx-light python3 python3-httpbin libhiredis-dev \
               redis-server iproute2 lua-ldoc chromium python3-jsonschema rapidjson-dev libsimdjson-dev

LUA_SRC         = $(shell find lua -name '*.lua' | sort)
LUA_SANDBOX_SRC = $(shell find lua/pulse/sandbox -name '*.lua' | sort)
LUA_CLIENT_SRC  = $(filter-out $(LUA_SANDBOX_SRC),$(LUA_SRC))

obj = $(patsubst src/%.c,$(BUILD)/obj/%.o,$(1))
pic = $(patsubst src/%.c,$(BUILD)/pic/%.o,$(1))

.PHONY: all module test bench bench-compare docs install install-module uninstall clean deps lint lint-selftest format rock install-rock catalog tables \
        check-asan check-valgrind fuzz

all: $(BUILD)/pulse/core.so $(BUILD)/pulse-lua $(BUILD)/pulse-sandbox

module: $(BUILD)/pulse/core.so

$(BUILD)/pic/%.o: src/%.c
	@mkdir -p $(@D)
	@echo "  CC (pic) $<"
	$(Q)$(CC) $(ALL_CFLAGS) -fPIC -c $< -o $@

$(BUILD)/obj/runner/%.o: src/runner/%.c
	@mkdir -p $(@D)
	@echo "  CC       $<"
	$(Q)$(CC) $(ALL_CFLAGS) $(MHD_CFLAGS) $(RUNNER_CFLAGS) -c $< -o $@

$(BUILD)/obj/sandbox/%.o: src/sandbox/%.c
	@mkdir -p $(@D)
	@echo "  CC       $<"
	$(Q)$(CC) $(ALL_CFLAGS) $(MHD_CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	@echo "  CC       $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

# The Redis limiter's script, compiled into pulse.core.
$(BUILD)/gen/redis_bucket.h: src/limiter/redis_bucket.lua tools/cstring.lua tools/c_literal.lua
	@mkdir -p $(@D)
	@echo "  CSTRING  $< -> $@"
	$(Q)$(LUA) tools/cstring.lua REDIS_BUCKET_SCRIPT $< $@

$(call obj,src/limiter/redis.c) $(call pic,src/limiter/redis.c): $(BUILD)/gen/redis_bucket.h

# The Redis queue's script, compiled into pulse.core too.
$(BUILD)/gen/redis_streams.h: src/queue/redis_streams.lua tools/cstring.lua tools/c_literal.lua
	@mkdir -p $(@D)
	@echo "  CSTRING  $< -> $@"
	$(Q)$(LUA) tools/cstring.lua REDIS_STREAMS_SCRIPT $< $@

$(call obj,src/binding/redis.c) $(call pic,src/binding/redis.c): $(BUILD)/gen/redis_streams.h

# Each program carries its Lua modules: pulse-lua all of lua/, pulse-sandbox
# only its own.
$(BUILD)/embedded_all.c: tools/embed.lua tools/c_literal.lua $(LUA_SRC)
	@mkdir -p $(@D)
	@echo "  EMBED    lua/ -> $@"
	$(Q)$(LUA) tools/embed.lua $@ $(LUA_SRC)

$(BUILD)/embedded_sandbox.c: tools/embed.lua tools/c_literal.lua $(LUA_SANDBOX_SRC)
	@mkdir -p $(@D)
	@echo "  EMBED    lua/pulse/sandbox/ -> $@"
	$(Q)$(LUA) tools/embed.lua $@ $(LUA_SANDBOX_SRC)

$(BUILD)/obj/embedded_%.o: $(BUILD)/embedded_%.c
	@echo "  CC       $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/pulse/core.so: $(call pic,$(MODULE_SRC))
	@mkdir -p $(@D)
	@echo "  LD       $@"
	$(Q)$(CC) -shared $(LDFLAGS) -o $@ $^ $(CURL_LIBS) $(REDIS_LIBS) -lm

# libcurl and libmicrohttpd are not linked: src/net/curl_dlopen.c and
# src/sandbox/mhd_dlopen.c load them at their first use, which keeps them
# off every start.
RUNNER_OBJ = $(RUNNER_SRC) $(RUNNER_UTIL_SRC) $(EMBED_SRC) $(SANDBOX_SRC) $(MODULE_SRC) $(NET_LAZY_SRC) $(SANDBOX_LAZY_SRC)
$(BUILD)/pulse-lua: $(call obj,$(RUNNER_OBJ)) $(BUILD)/obj/embedded_all.o
	@echo "  LD       $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LUA_STATIC) $(REDIS_LIBS) $(CJSON_LIBS) $(RUNNER_LIBS) -ldl -lpthread -lm

$(BUILD)/pulse-sandbox: $(call obj,$(SANDBOX_MAIN) $(SANDBOX_SRC) $(EMBED_SRC) $(SANDBOX_UTIL_SRC)) \
                        $(BUILD)/obj/embedded_sandbox.o
	@echo "  LD       $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LUA_STATIC) $(MHD_LIBS) $(CJSON_LIBS) -lpthread -lm

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

test: all
	$(BUSTED)

# The whole suite with AddressSanitizer and UBSan: an instrumented pulse-lua
# (pulse.core compiled in) runs busted, against instrumented sandboxes; the
# pages checked in a browser (#browser) once, in make test, are left out.
# PULSE_MALLOC=system: Lua's blocks come from malloc, for ASan to see each
# (runner_spec runs its pool under ASan too). The queue's kill loop kills
# 10 times, not 50: each drainer starts slower.
SANITIZE     = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
check-asan:
	$(MAKE) BUILD=build-asan CFLAGS="-O1 -g $(SANITIZE) -Werror" LDFLAGS="$(SANITIZE)" all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 PULSE_MALLOC=system \
		QUEUE_KILLS=10 PULSE_BUILD=build-asan build-asan/pulse-lua /usr/bin/busted --exclude-tags=browser

# A representative part of the suite under valgrind's memcheck: the runner
# (pulse.core built in) runs the JSON, URL, client, rate-limit, retry,
# batch and write queue specs, against sandboxes that run under memcheck
# too, leaving out the few tests that bound wall-clock time (tagged #timing). Zero errors and
# zero definite leaks, or it fails. Lua's blocks come from malloc, for memcheck to see each.
VALGRIND      = valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
                --show-leak-kinds=definite
VALGRIND_SPECS = spec/json_spec.lua spec/url_spec.lua spec/client_spec.lua spec/ratelimit_spec.lua spec/retry_spec.lua \
                 spec/batch_spec.lua spec/queue_spec.lua spec/queue_redis_spec.lua spec/queue_journal_spec.lua \
                 spec/queue_settle_spec.lua
check-valgrind: all
	PULSE_MALLOC=system PULSE_SANDBOX_WRAPPER="$(VALGRIND)" $(VALGRIND) $(BUILD)/pulse-lua /usr/bin/busted --exclude-tags=timing \
		$(VALGRIND_SPECS)

# libFuzzer targets for every C parser of outside input (src/sources.mk
# lists them and their sources); FUZZ_SECONDS each.
FUZZ_SECONDS ?= 30
FUZZ_CFLAGS   = -g -O1 -std=c11 -D_GNU_SOURCE -Isrc -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
# What a target links beyond its sources (src/sources.mk's FUZZ_SRC_*).
FUZZ_LIBS_url         = $(shell pkg-config --cflags --libs $(LUA_PC))
FUZZ_LIBS_redis_reply = $(shell pkg-config --cflags --libs $(LUA_PC) hiredis)

# fuzz-NAME builds target NAME from its sources and runs it FUZZ_SECONDS,
# printing libFuzzer's tally, and its log's end when it found something.
define FUZZ_RULE
fuzz-$(1):
	@mkdir -p build-fuzz/corpus-$(1)
	@echo "  FUZZ     $(1)"
	@clang $$(FUZZ_CFLAGS) src/fuzz/$(1)_fuzz.c $$(FUZZ_SRC_$(1)) $$(FUZZ_LIBS_$(1)) -lm -o build-fuzz/$(1)
	@rc=0; build-fuzz/$(1) -max_total_time=$$(FUZZ_SECONDS) -print_final_stats=1 \
		build-fuzz/corpus-$(1) src/fuzz/corpus/$(1) > build-fuzz/$(1).log 2>&1 || rc=$$$$?; \
	grep -E "^Done|stat::number_of_executed_units" build-fuzz/$(1).log; \
	if [ $$$$rc -ne 0 ]; then tail -40 build-fuzz/$(1).log; exit 1; fi
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_RULE,$(t))))

.PHONY: $(addprefix fuzz-,$(FUZZ_TARGETS))
fuzz: $(addprefix fuzz-,$(FUZZ_TARGETS))

# The shm: limiter's take, timed in C, without Lua or libcurl.
SHM_TAKE_SRC = bench/shm_take.c src/limiter/shm.c src/limiter/shm_guard.c src/limiter/limiter.c src/core/lanes.c src/core/ratelimit.c \
               src/core/ratelimit_headers.c src/util/header_block.c src/util/http_date.c src/util/clock.c
$(BUILD)/bench/shm_take: $(SHM_TAKE_SRC)
	@mkdir -p $(@D)
	@echo "  CC       $<"
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE $(WARNINGS) -O2 -Isrc $(SHM_TAKE_SRC) -o $@ -lpthread -lm

# The Lua-cURLv3 + lua-cjson shape: libcurl multi and cjson in C, on a Lua
# core linked in, as lua5.4 (which would run such a script) has it.
$(BUILD)/bench/cjson_multi: bench/cjson_multi.c bench/plain.h
	@mkdir -p $(@D)
	@echo "  CC       $<"
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE $(WARNINGS) -O2 $(LUA_CFLAGS) $< -o $@ $(LUA_STATIC) $(CJSON_LIBS) \
		$(shell pkg-config --libs libcurl) -lm

# Thin Lua bindings of rapidjson and simdjson (Debian's rapidjson-dev and
# libsimdjson-dev), for bench/json.lua to set pulse.json beside.
$(BUILD)/bench/rapidjson_bench.so: bench/rapidjson_lua.cpp
	@mkdir -p $(@D)
	@echo "  CXX      $<"
	$(Q)$(CXX) -std=c++17 -Wall -Wextra -Wshadow -O2 -fPIC -shared $(LUA_CFLAGS) $< -o $@

$(BUILD)/bench/simdjson_bench.so: bench/simdjson_lua.cpp
	@mkdir -p $(@D)
	@echo "  CXX      $<"
	$(Q)$(CXX) -std=c++17 -Wall -Wextra -Wshadow -O2 -fPIC -shared $(LUA_CFLAGS) $< -o $@ -lsimdjson

$(BUILD)/bench/%: bench/%.c bench/plain.h
	@mkdir -p $(@D)
	@echo "  CC       $<"
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE $(WARNINGS) -O2 $< -o $@ $(shell pkg-config --libs libcurl)

# nginx (Debian nginx-light, which make deps installs) serves the benchmarks'
# file; without it, the sandbox does.
bench: all $(BUILD)/bench/plain_get $(BUILD)/bench/plain_multi $(BUILD)/bench/shm_take $(BUILD)/bench/cjson_multi \
       $(BUILD)/bench/rapidjson_bench.so $(BUILD)/bench/simdjson_bench.so
	$(BUILD)/pulse-lua bench/transport.lua
	$(BUILD)/pulse-lua bench/observe.lua
	$(BUILD)/pulse-lua bench/concurrency.lua
	taskset -c 0 $(BUILD)/pulse-lua bench/json.lua
	$(BUILD)/pulse-lua bench/goodput.lua
	$(BUILD)/pulse-lua bench/shared_goodput.lua
	$(BUILD)/pulse-lua bench/cache.lua
	$(BUILD)/pulse-lua bench/play.lua
	$(BUILD)/pulse-lua bench/sandbox.lua
	$(BUILD)/pulse-lua bench/queue.lua
	$(BUILD)/pulse-lua bench/drain_rate.lua
	$(BUILD)/pulse-lua bench/calls.lua
	$(BUILD)/pulse-lua bench/budget.lua

# The reference of the public Lua API (LDoc, from the doc comments), in
# $(BUILD)/docs/index.html.
docs:
	cd doc && ldoc -c config.ld -d $(abspath $(BUILD))/docs .

C_FILES = $(shell find src bench -name '*.[ch]' | sort)

# The benchmarks with a second pulse-lua, built from REF (a commit), in
# the same interleaved rounds: make bench-compare REF=HEAD~3
REF ?= HEAD
bench-compare: all $(BUILD)/bench/plain_get $(BUILD)/bench/plain_multi $(BUILD)/bench/cjson_multi
	rm -rf $(BUILD)/ref && mkdir -p $(BUILD)/ref
	git archive --format=tar $(REF) | tar -x -C $(BUILD)/ref
	$(MAKE) -C $(BUILD)/ref BUILD=build all
	PULSE_BENCH_BASELINE=$(BUILD)/ref/build $(BUILD)/pulse-lua bench/transport.lua
	PULSE_BENCH_BASELINE=$(BUILD)/ref/build $(BUILD)/pulse-lua bench/concurrency.lua
	PULSE_BENCH_BASELINE=$(BUILD)/ref/build $(BUILD)/pulse-lua bench/sandbox.lua
	PULSE_BENCH_BASELINE=$(BUILD)/ref/build $(BUILD)/pulse-lua bench/instructions.lua

# luacheck, clang-format, and the layer rules of ARCHITECTURE.md
# (tools/layers.lua): each folder includes and requires only what lies
# below it.
lint:
	luacheck lua spec examples tools $(wildcard bench/*.lua) src/limiter/redis_bucket.lua src/queue/redis_streams.lua
	clang-format --dry-run --Werror $(C_FILES)
	$(LUA) tools/layers.lua .
	@$(LUA) tools/catalog.lua doc/api/endpoints.tsv $(BUILD)/catalog.lua $(BUILD)/client_catalog.lua $(BUILD)/NAMES.md \
		&& cmp -s $(BUILD)/catalog.lua lua/pulse/sandbox/catalog.lua && cmp -s $(BUILD)/client_catalog.lua lua/pulse/catalog.lua \
		&& cmp -s $(BUILD)/NAMES.md doc/api/NAMES.md \
		|| { echo "lint: the catalogs or doc/api/NAMES.md are not doc/api/endpoints.tsv's: run make catalog"; exit 1; }
	@python3 tools/pow10_table.py | cmp -s - src/core/pow10_table.h \
		|| { echo "lint: src/core/pow10_table.h is not tools/pow10_table.py's: run make tables"; exit 1; }
	@# A module reads only its own objects' private (_) fields, on self: a
	@# client's reach the request path as the client's line (send.lua). In
	@# the sandbox's records _ marks what the API does not write, not
	@# privacy (pulse/sandbox/org.lua): it is not checked there.
	@if grep -rnE '[[:alnum:]_)]\s*[.:]_[a-z]' lua examples --include='*.lua' --exclude-dir=sandbox | grep -vE '(^|[^.[:alnum:]_])self\s*[.:]_[a-z]|function [[:alnum:]_]+[.:]_[a-z]'; then \
		echo "lint: a _ field read on another module's object (a client's are client.lua's: see send.lua's line)"; exit 1; fi

# The sandbox's and the client's catalogs of the API's operations, and the
# table of the SDK's names, from the repository's copy of the reference's
# facts; make lint fails when they are not up to date.
catalog:
	$(LUA) tools/catalog.lua doc/api/endpoints.tsv lua/pulse/sandbox/catalog.lua lua/pulse/catalog.lua doc/api/NAMES.md

# The shortest-double formatter's powers of ten, 126-bit integers from
# exact arithmetic; make lint fails when they are not the tool's.
tables:
	python3 tools/pow10_table.py > src/core/pow10_table.h

# Plants one violation of each layer rule in a scratch copy of the tree
# and checks that the layer check fails on it.
lint-selftest:
	$(LUA) tools/layers_selftest.lua

format:
	clang-format -i $(C_FILES)

install: install-rock
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/doc/pulse-lua/doc/api
	for page in pulse-lua pulse-sandbox; do \
		sed 's/@VERSION@/$(VERSION)/' doc/man/$$page.1 > $(DESTDIR)$(PREFIX)/share/man/man1/$$page.1 || exit 1; \
	done
	install -m 644 README.md CHANGELOG.md LICENSE $(DESTDIR)$(PREFIX)/share/doc/pulse-lua/
	install -m 644 doc/*.md $(DESTDIR)$(PREFIX)/share/doc/pulse-lua/doc/
	install -m 644 doc/api/NAMES.md doc/api/README.md $(DESTDIR)$(PREFIX)/share/doc/pulse-lua/doc/api/

# What the rockspec installs: the module, pulse.sandbox's Lua files, and the
# programs (pulse.sandbox.start runs pulse-sandbox from the PATH) into
# BINDIR, a LuaRocks tree's bin/ there.
BINDIR ?= $(PREFIX)/bin
install-rock: all install-module
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(BUILD)/pulse-lua $(BUILD)/pulse-sandbox $(DESTDIR)$(BINDIR)/
	for f in $(LUA_SANDBOX_SRC); do \
		install -D -m 644 $$f $(DESTDIR)$(LUA_LMOD)/$${f#lua/} || exit 1; \
	done

# pulse.core and the client's Lua modules: what the rockspec installs.
install-module: $(BUILD)/pulse/core.so
	install -d $(DESTDIR)$(LUA_CMOD)/pulse
	install -m 755 $(BUILD)/pulse/core.so $(DESTDIR)$(LUA_CMOD)/pulse/core.so
	for f in $(LUA_CLIENT_SRC); do \
		install -D -m 644 $$f $(DESTDIR)$(LUA_LMOD)/$${f#lua/} || exit 1; \
	done

uninstall:
	rm -rf $(DESTDIR)$(LUA_CMOD)/pulse $(DESTDIR)$(LUA_LMOD)/pulse $(DESTDIR)$(PREFIX)/share/doc/pulse-lua
	rm -f $(DESTDIR)$(PREFIX)/bin/pulse-lua $(DESTDIR)$(PREFIX)/bin/pulse-sandbox
	rm -f $(DESTDIR)$(PREFIX)/share/man/man1/pulse-lua.1 $(DESTDIR)$(PREFIX)/share/man/man1/pulse-sandbox.1

# Builds the rockspec into a local tree as a LuaRocks user would (the
# Makefile finds libcurl and hiredis with pkg-config: Debian keeps curl.h
# in the multiarch include directory, where LuaRocks does not look), then
# packs the rock, installs the packed rock into a fresh tree, and checks
# there what a user reaches: require "pulse", pulse.sandbox.start and the
# programs (spec/support/rock_check.lua). Then the same for a source rock
# (pulse-lua-VERSION-1.src.rock) that builds wherever it is copied.
ROCK_TREE ?= $(BUILD)/rocks
rock:
	rm -rf $(ROCK_TREE) && mkdir -p $(ROCK_TREE)
	luarocks --lua-version $(LUA_VERSION) make --tree $(ROCK_TREE)/made rockspec/pulse-lua-scm-1.rockspec
	cd $(ROCK_TREE) && luarocks --lua-version $(LUA_VERSION) pack --tree made pulse-lua scm-1
	luarocks --lua-version $(LUA_VERSION) install --tree $(ROCK_TREE)/fresh --deps-mode none \
		$(ROCK_TREE)/pulse-lua-scm-1.*.rock
	PATH="$(ROCK_TREE)/fresh/bin:$$PATH" \
	LUA_PATH="$(ROCK_TREE)/fresh/share/lua/$(LUA_VERSION)/?.lua;$(ROCK_TREE)/fresh/share/lua/$(LUA_VERSION)/?/init.lua" \
	LUA_CPATH="$(ROCK_TREE)/fresh/lib/lua/$(LUA_VERSION)/?.so" \
		$(LUA) spec/support/rock_check.lua
	@# The source rock: this tree's files in a tarball the release rockspec
	@# names, packed with it, so that it installs (and builds) anywhere,
	@# with no repository to fetch from.
	mkdir -p $(ROCK_TREE)/src/pulse-lua-$(VERSION)
	git ls-files -z | tar --null -T - -cf - | tar -xf - -C $(ROCK_TREE)/src/pulse-lua-$(VERSION)
	tar -czf $(ROCK_TREE)/src/pulse-lua-$(VERSION).tar.gz -C $(ROCK_TREE)/src pulse-lua-$(VERSION)
	sed -e 's|^version = "scm-1"|version = "$(VERSION)-1"|' \
	    -e 's|^\turl = "git+file://.",|\turl = "file://$(abspath $(ROCK_TREE))/src/pulse-lua-$(VERSION).tar.gz",\n\tdir = "pulse-lua-$(VERSION)",|' \
	    rockspec/pulse-lua-scm-1.rockspec > $(ROCK_TREE)/src/pulse-lua-$(VERSION)-1.rockspec
	cd $(ROCK_TREE)/src && luarocks --lua-version $(LUA_VERSION) pack pulse-lua-$(VERSION)-1.rockspec
	@# The rock alone: the tarball it was packed from is gone when it installs.
	rm -rf $(ROCK_TREE)/src/pulse-lua-$(VERSION).tar.gz $(ROCK_TREE)/src/pulse-lua-$(VERSION)
	luarocks --lua-version $(LUA_VERSION) install --tree $(ROCK_TREE)/src/fresh --deps-mode none \
		$(ROCK_TREE)/src/pulse-lua-$(VERSION)-1.src.rock
	PATH="$(ROCK_TREE)/src/fresh/bin:$$PATH" \
	LUA_PATH="$(ROCK_TREE)/src/fresh/share/lua/$(LUA_VERSION)/?.lua;$(ROCK_TREE)/src/fresh/share/lua/$(LUA_VERSION)/?/init.lua" \
	LUA_CPATH="$(ROCK_TREE)/src/fresh/lib/lua/$(LUA_VERSION)/?.so" \
		$(LUA) spec/support/rock_check.lua

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi
	@# Newman and Prism, pinned by tools/interop/package-lock.json, where npm is
	@# present: the interop specs and the collection bench say so where not.
	@if command -v npm >/dev/null; then \
		if ! cmp -s tools/interop/package-lock.json tools/interop/node_modules/.installed-lock; then \
			npm ci --prefix tools/interop --no-audit --no-fund --loglevel=error && \
			cp tools/interop/package-lock.json tools/interop/node_modules/.installed-lock; \
		fi; \
	else \
		echo "npm is absent: the Newman and Prism interop specs will be skipped"; \
	fi

clean:
	rm -rf $(BUILD) build-asan build-fuzz
