-- wrk script: status(id: 1) with the bearer token of each request drawn from
-- the lines of $TOKENS_FILE, uniformly, or Zipf($ZIPF_S) when ZIPF_S > 0
-- (line 1 the most frequent).  Answers without "COMPLETED" are counted as
-- errors and printed at the end ("errors N").
local tokens = {}
for line in io.lines(os.getenv("TOKENS_FILE")) do
	tokens[#tokens + 1] = line
end
local n = #tokens
local s = tonumber(os.getenv("ZIPF_S") or "0") or 0
local cdf = nil
if s > 0 then
	cdf = {}
	local acc = 0
	for i = 1, n do
		acc = acc + 1 / (i ^ s)
		cdf[i] = acc
	end
	for i = 1, n do
		cdf[i] = cdf[i] / acc
	end
end

local function pick()
	if cdf == nil then
		return math.random(n)
	end
	local u, lo, hi = math.random(), 1, n
	while lo < hi do
		local mid = math.floor((lo + hi) / 2)
		if cdf[mid] < u then lo = mid + 1 else hi = mid end
	end
	return lo
end

local threads = {}
local counter = 0
function setup(thread)
	counter = counter + 1
	thread:set("id", counter)
	threads[#threads + 1] = thread
end

local body = '{"query":"{ status(id: 1) { status reportID progress } }"}'
errors = 0
function init(args)
	math.randomseed(os.time() * 100 + (id or 0))
end

function request()
	return wrk.format("POST", nil, {
		["Content-Type"] = "application/json",
		["Authorization"] = "Bearer " .. tokens[pick()],
	}, body)
end

function response(status, headers, b)
	if status ~= 200 or not string.find(b, "COMPLETED", 1, true) then
		errors = errors + 1
		if errors <= 3 then
			io.stderr:write("error answer: " .. status .. " " .. string.sub(b, 1, 300) .. "\n")
		end
	end
end

function done(summary, latency, requests)
	local total = 0
	for _, t in ipairs(threads) do
		total = total + (t:get("errors") or 0)
	end
	io.write(string.format("errors %d\n", total))
end
