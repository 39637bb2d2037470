-- wrk script for the payment scenarios of bench/run: every request is
--   POST /api/payments/<orderId>  {"paymentMethodId":"pm_card_visa"}   with the order owner's token,
-- which pays that order once (payment-service reads the order from order-service, takes the
-- order's payment lease, charges the provider, records the payment and marks the order Paid).
-- BENCH_PAY_ORDERS names a file of "<orderId> <token>" lines (N Pending orders, placed by bench/run
-- right before this wrk run and never paid yet). Each request takes the next order, so each order
-- is paid at most once per file: bench/run writes a new file of new orders before every wrk run
-- (warm-up included), sized above what the run can pay. Past the last order the script would wrap
-- around to an order already paid (409), which bench/run reports as orders exhausted. With T wrk
-- threads (BENCH_PAY_THREADS = T), thread i takes orders i, i + T, i + 2T, ... The requests are
-- formatted once, in init(); no response() callback (a Lua call per response slows wrk down).
-- wrk 4 calls request() of its first thread once before the run, to check the request it
-- returns, without sending it: that takes the first order of the file, which then stays unpaid.

local file = os.getenv("BENCH_PAY_ORDERS")
if not file then
  error("pay.lua: BENCH_PAY_ORDERS must name a file of '<orderId> <token>' lines")
end

local orders, tokens = {}, {}
for line in io.lines(file) do
  local id, token = line:match("^(%x+)%s+(%S+)$")
  if id then
    orders[#orders + 1] = id
    tokens[#tokens + 1] = token
  end
end
if #orders == 0 then
  error("pay.lua: " .. file .. " holds no orders")
end

local threads = 0
function setup(thread)
  thread:set("index", threads)
  threads = threads + 1
end

local requests = {}
local next_one = 1
local body = '{"paymentMethodId":"pm_card_visa"}'

function init(args)
  local index = tonumber(wrk.thread:get("index")) or 0
  -- init() of a thread runs right after its setup(), before the next thread exists: the thread
  -- count comes from bench/run (wrk's -t) instead.
  local count = tonumber(os.getenv("BENCH_PAY_THREADS") or "1") or 1
  for k = index + 1, #orders, count do
    local headers = {}
    for name, value in pairs(wrk.headers) do headers[name] = value end
    headers["Authorization"] = "Bearer " .. tokens[k]
    headers["Content-Type"] = "application/json"
    requests[#requests + 1] = wrk.format("POST", "/api/payments/" .. orders[k], headers, body)
  end
  if #requests == 0 then
    error("pay.lua: more wrk threads than orders")
  end
end

function request()
  local r = requests[next_one]
  next_one = next_one % #requests + 1
  return r
end
