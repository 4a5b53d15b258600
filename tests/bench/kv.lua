-- wrk script for cairn's KV API (tests/bench/bench.sh).
--
--   wrk ... -s tests/bench/kv.lua http://HOST:PORT -- MODE [KEYS]
--
-- MODE: put (PUT a 64-byte value), get (linearizable GET), stale (GET
-- ?stale). Keys bench/k0000 .. bench/k(KEYS-1), KEYS default 1000, drawn
-- uniformly at random. At the end prints one machine-readable line:
--   RESULT requests=N duration_us=N p50_us=N p99_us=N max_us=N non2xx=N errors=N

local mode = "put"
local nkeys = 1000
local value = string.rep("x", 64)
local threads = {}
local counter = 0

function setup(thread)
	counter = counter + 1
	thread:set("tid", counter)
	table.insert(threads, thread)
end

function init(args)
	mode = args[1] or "put"
	nkeys = tonumber(args[2] or "1000")
	math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
	if mode ~= "put" and mode ~= "get" and mode ~= "stale" then
		error("kv.lua: MODE must be put, get or stale, not " .. tostring(mode))
	end
end

function request()
	local path = string.format("/v1/kv/bench/k%04d", math.random(0, nkeys - 1))
	if mode == "put" then
		return wrk.format("PUT", path, nil, value)
	elseif mode == "stale" then
		return wrk.format("GET", path .. "?stale")
	end
	return wrk.format("GET", path)
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		"RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d non2xx=%d errors=%d\n",
		summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
		latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
