-- wrk script for the CAS and prefix rows of tests/bench/bench_kv.sh.
--
--   wrk -t C -c C ... -s kv_cas.lua http://HOST:PORT -- cas PREFIX
--   wrk -t T -c C ... -s kv_cas.lua http://HOST:PORT -- prefix PREFIX
--
-- cas: every connection compare-and-sets its own key PREFIX/kNNN (NNN: the
-- wrk thread's number), PUT ?cas=<the key's modify_index>, starting from
-- cas=0 (the key must not exist), then the index each answer gives: the
-- X-Cairn-Index of a 200 (the write's index, which is the key's new
-- modify_index), or the current entry's modify_index in a 409. wrk's
-- response() hook does not say which connection answered, so run one
-- connection per thread (-t C -c C): a thread's Lua state is then one
-- connection's. With one writer per key a 409 should never happen; they
-- are counted apart from the successes.
-- prefix: GET PREFIX/?recurse (linearizable), as fast as it goes.
--
-- At the end prints one machine-readable line:
--   RESULT requests=N duration_us=N p50_us=N p99_us=N max_us=N non2xx=N errors=N cas_ok=N cas_409=N cas_other=N

local mode = "cas"
local prefix = "bench/cas"
local key
local value = string.rep("c", 64)
local threads = {}
local counter = 0

-- Per thread (= per connection in cas mode).
local index = 0
cas_ok = 0
cas_409 = 0
cas_other = 0

function setup(thread)
	counter = counter + 1
	thread:set("tid", counter)
	table.insert(threads, thread)
end

local function cas_response(status, headers, body)
	if status == 200 then
		cas_ok = cas_ok + 1
		index = tonumber(headers["X-Cairn-Index"] or "") or tonumber(body:match('"index":(%d+)') or "") or index
	elseif status == 409 then
		cas_409 = cas_409 + 1
		-- "current": the entry (its modify_index) or null (absent: cas=0).
		index = tonumber(body:match('"modify_index":(%d+)') or "0")
	else
		cas_other = cas_other + 1
	end
end

function init(args)
	mode = args[1] or "cas"
	prefix = args[2] or prefix
	if mode == "cas" then
		key = string.format("/v1/kv/%s/k%03d?cas=", prefix, tid or 0)
		-- wrk asks for bodies and headers only when response() exists.
		response = cas_response
	elseif mode ~= "prefix" then
		error("kv_cas.lua: MODE must be cas or prefix, not " .. tostring(mode))
	end
end

function request()
	if mode == "cas" then
		return wrk.format("PUT", key .. index, nil, value)
	end
	return wrk.format("GET", "/v1/kv/" .. prefix .. "/?recurse")
end

function done(summary, latency, requests)
	local ok, c409, other = 0, 0, 0
	for _, t in ipairs(threads) do
		ok = ok + (t:get("cas_ok") or 0)
		c409 = c409 + (t:get("cas_409") or 0)
		other = other + (t:get("cas_other") or 0)
	end
	local e = summary.errors
	io.write(string.format(
		"RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d non2xx=%d errors=%d cas_ok=%d cas_409=%d cas_other=%d\n",
		summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
		latency.max, e.status, e.connect + e.read + e.write + e.timeout, ok, c409, other))
end
