# The one list of pulse-lua's C sources, by layer, and its version. The
# Makefile, the rockspec (through make) and the fuzz targets read it.

PULSE_VERSION = 0.1.0

# Utilities (as curl's lib/curlx/): buffers, clocks, files, parsers of
# outside input that decide nothing; the policy in core/ builds on them.
UTIL_SRC     = src/util/buf.c src/util/clock.c src/util/fd_io.c src/util/header_block.c src/util/http_date.c \
               src/util/metrics.c src/util/owned_file.c src/util/request_stats.c src/util/sha256.c \
               src/util/stop_signal.c
CORE_SRC     = src/core/decimal_double.c src/core/json_decode.c src/core/json_encode.c src/core/lanes.c src/core/ratelimit.c \
               src/core/ratelimit_headers.c src/core/retry.c src/core/shortest_double.c
REDIS_SRC    = src/redis/link.c src/redis/reader_limit.c src/redis/url.c
LIMITER_SRC  = src/limiter/limiter.c src/limiter/local.c src/limiter/redis.c src/limiter/shm.c src/limiter/shm_guard.c
QUEUE_SRC    = src/queue/claim.c src/queue/journal.c src/queue/record.c
NET_SRC      = src/net/engine.c src/net/exchange.c src/net/transport.c
# The runner's libcurl, loaded at its first use (the module links libcurl),
# by the utilities' loader of such libraries.
NET_LAZY_SRC = src/net/curl_dlopen.c src/util/lazy_library.c
BINDING_SRC  = src/binding/aux.c src/binding/core.c src/binding/engine.c src/binding/files.c src/binding/journal.c src/binding/json.c src/binding/limiter.c \
               src/binding/metrics.c src/binding/trace.c \
               src/binding/policy.c src/binding/redis.c src/binding/redis_reply.c src/binding/response.c src/binding/sys.c src/binding/transport.c
EMBED_SRC    = src/embed/modules.c
SANDBOX_SRC  = src/sandbox/server.c src/sandbox/connections.c src/sandbox/handler.c src/sandbox/options.c \
               src/sandbox/timer.c src/sandbox/webhooks.c src/sandbox/webhook_target.c
RUNNER_SRC   = src/runner/pulse_lua.c src/runner/args.c src/runner/calls.c src/runner/interrupt.c src/runner/repl.c \
               src/runner/metrics_server.c \
               src/runner/runner_sandbox.c src/runner/state.c
# The runner's Lua state takes its memory from this pool.
RUNNER_UTIL_SRC = src/util/block_pool.c src/util/listen_address.c
SANDBOX_MAIN = src/sandbox/main.c
# The runner's libmicrohttpd, loaded when its sandbox first starts.
SANDBOX_LAZY_SRC = src/sandbox/mhd_dlopen.c

# pulse.core, the module: everything below the runner but the sandbox.
MODULE_SRC   = $(UTIL_SRC) $(CORE_SRC) $(REDIS_SRC) $(LIMITER_SRC) $(QUEUE_SRC) $(NET_SRC) $(BINDING_SRC)
# The sandbox takes only these utilities: it has no libcurl, its own JSON
# and its own bucket.
SANDBOX_UTIL_SRC = src/util/buf.c src/util/clock.c

# libFuzzer targets (src/fuzz/NAME_fuzz.c) and the sources each links.
FUZZ_TARGETS = json_decode ratelimit_headers url redis_url journal_record redis_reply block_pool ratelimit_state \
               lanes webhook_target listen_address decimal_double
FUZZ_SRC_json_decode       = src/core/json_decode.c src/core/decimal_double.c
FUZZ_SRC_ratelimit_headers = src/core/ratelimit_headers.c src/util/header_block.c src/util/http_date.c src/core/ratelimit.c
FUZZ_SRC_url               =
FUZZ_SRC_redis_url         = src/redis/url.c
FUZZ_SRC_journal_record    = src/queue/record.c src/util/sha256.c
FUZZ_SRC_redis_reply       = src/binding/redis_reply.c src/redis/reader_limit.c
FUZZ_SRC_block_pool        = src/util/block_pool.c
FUZZ_SRC_ratelimit_state   = src/core/ratelimit.c
FUZZ_SRC_listen_address    = src/util/listen_address.c
FUZZ_SRC_lanes             = src/core/lanes.c src/core/ratelimit.c
FUZZ_SRC_webhook_target    = src/sandbox/webhook_target.c
FUZZ_SRC_decimal_double    = src/core/decimal_double.c src/core/json_decode.c src/core/json_encode.c src/core/shortest_double.c src/util/buf.c
