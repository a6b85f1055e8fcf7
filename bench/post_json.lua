-- POST JSON, a new caller on every request.
dofile("bench/report.lua")
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
function init(args)
  key, to, counter = args[1], args[2], 0
end
function request()
  counter = counter + 1
  local body = string.format('{"key":"%s","from":"+1510%d%06d","to":"%s"}', key, id % 10, counter % 1000000, to)
  return wrk.format("POST", "/v1/ivr", { ["Content-Type"] = "application/json" }, body)
end
