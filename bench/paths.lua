-- wrk script for the catalog scenarios of bench/run: every request is a GET of the next path of
-- the file named by BENCH_PATHS (one path per line, e.g. /api/products/<id> or
-- /api/products?category=Books&limit=20), in turn, over and over. Headers given with -H are sent
-- too. The requests are formatted once, in init(); request() only picks the next one.
-- No response() callback: a Lua call per response would slow wrk itself down.

local file = os.getenv("BENCH_PATHS")
if not file then
  error("paths.lua: BENCH_PATHS must name a file of paths")
end

local paths = {}
for line in io.lines(file) do
  if line ~= "" then paths[#paths + 1] = line end
end
if #paths == 0 then
  error("paths.lua: " .. file .. " holds no paths")
end

local threads = 0
function setup(thread)
  thread:set("index", threads)
  threads = threads + 1
end

local requests = {}
local next_one = 1

function init(args)
  for i, path in ipairs(paths) do
    requests[i] = wrk.format("GET", path)
  end
  -- Threads start at different places in the list.
  local index = tonumber(wrk.thread:get("index")) or 0
  next_one = (index * 7919) % #requests + 1
end

function request()
  local r = requests[next_one]
  next_one = next_one % #requests + 1
  return r
end
