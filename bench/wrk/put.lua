-- PUTs the benchmark record to one of `ids` records at random.
-- Usage: wrk -s put.lua URL -- /path/prefix/ ids
local prefix, ids = "/", 10000
local body

function init(args)
  prefix = args[1] or prefix
  ids = tonumber(args[2] or ids)
  local f = assert(io.open(os.getenv("FERRY_BENCH_RECORD") or "bench/testdata/order.json", "rb"))
  body = f:read("*a")
  f:close()
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

request = function()
  local path = prefix .. "b" .. math.random(1, ids)
  return wrk.format("PUT", path, {["Content-Type"] = "application/json", ["Prefer"] = "return=minimal"}, body)
end
