-- wrk script for the login scenario of bench/run: every request is
--   POST /api/users/login  {"email": BENCH_EMAIL, "password": BENCH_PASSWORD}
-- bench/run registers that user first and passes the credentials in the environment. They are made
-- by bench/run from letters, digits, '@', '.' and '-' only, so they need no JSON escaping here.
-- No response() callback: a Lua call per response would slow wrk itself down.

local email = os.getenv("BENCH_EMAIL")
local password = os.getenv("BENCH_PASSWORD")
if not email or not password then
  error("login.lua: BENCH_EMAIL and BENCH_PASSWORD must be set")
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"' .. email .. '","password":"' .. password .. '"}'
