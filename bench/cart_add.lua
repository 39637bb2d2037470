-- wrk script for the cart scenarios of bench/run: every request is
--   POST /api/cart/<userId>/add  {"productId": <id>, "quantity": 1}   with that user's token.
-- BENCH_CART_USERS names a file of "<userId> <token>" lines (U users), BENCH_CART_PRODUCTS a file of
-- product ids (N products). Request k goes to user k mod U and product (k div U) mod N: consecutive
-- requests go to different carts (so the connections in flight rarely touch the same cart) and
-- every cart cycles over the same N products, adding 1 unit to one of its N lines each time.
-- bench/run fills the carts with those N lines first and sizes U so that no line can reach the
-- 1000-unit cap; every answer is then 201. The requests are formatted once, in init().

local users_file = os.getenv("BENCH_CART_USERS")
local products_file = os.getenv("BENCH_CART_PRODUCTS")
if not users_file or not products_file then
  error("cart_add.lua: BENCH_CART_USERS and BENCH_CART_PRODUCTS must name files")
end

local users, tokens, products = {}, {}, {}
for line in io.lines(users_file) do
  local id, token = line:match("^(%x+)%s+(%S+)$")
  if id then
    users[#users + 1] = id
    tokens[#tokens + 1] = token
  end
end
for line in io.lines(products_file) do
  if line:match("^%x+$") then products[#products + 1] = line end
end
if #users == 0 or #products == 0 then
  error("cart_add.lua: no users or no products")
end

local threads = 0
function setup(thread)
  thread:set("index", threads)
  threads = threads + 1
end

local requests = {}
local next_one = 1

function init(args)
  for p = 1, #products do
    local body = '{"productId":"' .. products[p] .. '","quantity":1}'
    for u = 1, #users do
      local headers = {}
      for name, value in pairs(wrk.headers) do headers[name] = value end
      headers["Authorization"] = "Bearer " .. tokens[u]
      headers["Content-Type"] = "application/json"
      requests[(p - 1) * #users + u] =
        wrk.format("POST", "/api/cart/" .. users[u] .. "/add", headers, body)
    end
  end
  local index = tonumber(wrk.thread:get("index")) or 0
  next_one = (index * 7919) % #requests + 1
end

function request()
  local r = requests[next_one]
  next_one = next_one % #requests + 1
  return r
end
