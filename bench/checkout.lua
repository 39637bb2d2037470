-- wrk script for the checkout scenario of bench/run: every request is
--   POST /api/orders/<userId>  {}   with that user's token,
-- which places an order from the user's cart (order-service reads the cart, which prices it through
-- product-service, holds the stock with one reservation, writes the order, then takes the ordered
-- lines off the cart). BENCH_CHECKOUT_USERS names a file of "<userId> <token>" lines (U users), each
-- with a full cart. Each request takes the next user, so each user orders exactly once per wrk run:
-- the order empties that cart. bench/run refills every cart before each wrk run (warm-up included)
-- and sizes U above what one run can place; past the last user the script would wrap around to an
-- emptied cart (400), which bench/run reports as users exhausted. With T wrk threads
-- (BENCH_CHECKOUT_THREADS = T), thread i takes users i, i + T, i + 2T, ... The requests are
-- formatted once, in init(); no response() callback (a Lua call per response slows wrk down).
-- wrk 4 calls request() of its first thread once before the run, to check the request it
-- returns, without sending it: that takes user 1 of the file, which then orders nothing.

local file = os.getenv("BENCH_CHECKOUT_USERS")
if not file then
  error("checkout.lua: BENCH_CHECKOUT_USERS must name a file of '<userId> <token>' lines")
end

local users, tokens = {}, {}
for line in io.lines(file) do
  local id, token = line:match("^(%x+)%s+(%S+)$")
  if id then
    users[#users + 1] = id
    tokens[#tokens + 1] = token
  end
end
if #users == 0 then
  error("checkout.lua: " .. file .. " holds no users")
end

local threads = 0
function setup(thread)
  thread:set("index", threads)
  threads = threads + 1
end

local requests = {}
local next_one = 1

function init(args)
  local index = tonumber(wrk.thread:get("index")) or 0
  -- init() of a thread runs right after its setup(), before the next thread exists: the thread
  -- count comes from bench/run (wrk's -t) instead.
  local count = tonumber(os.getenv("BENCH_CHECKOUT_THREADS") or "1") or 1
  for u = index + 1, #users, count do
    local headers = {}
    for name, value in pairs(wrk.headers) do headers[name] = value end
    headers["Authorization"] = "Bearer " .. tokens[u]
    headers["Content-Type"] = "application/json"
    requests[#requests + 1] = wrk.format("POST", "/api/orders/" .. users[u], headers, "{}")
  end
  if #requests == 0 then
    error("checkout.lua: more wrk threads than users")
  end
end

function request()
  local r = requests[next_one]
  next_one = next_one % #requests + 1
  return r
end
