-- GETs one of `ids` records at random, asking for one format.
-- Usage: wrk -s get.lua URL -- /path/prefix/ ids accept
local prefix, ids, accept = "/", 1000, "application/json"

function init(args)
  prefix = args[1] or prefix
  ids = tonumber(args[2] or ids)
  accept = args[3] or accept
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

request = function()
  return wrk.format("GET", prefix .. "b" .. math.random(1, ids), {["Accept"] = accept})
end
