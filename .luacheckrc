std = "lua54"
max_line_length = 120
-- Specs hold long literal test data and URLs on one line on purpose.
files["spec/"] = { std = "+busted", max_line_length = 160 }
-- Runs inside Redis (Lua 5.1, its globals).
files["src/limiter/redis_bucket.lua"] = { std = "lua51", globals = { "redis", "KEYS", "ARGV" } }
files["src/queue/redis_streams.lua"] = { std = "lua51", globals = { "redis", "KEYS", "ARGV", "cjson" } }
-- npm's packages (BullMQ ships the Lua scripts it runs in Redis): not ours.
exclude_files = { "tools/interop/node_modules/" }
