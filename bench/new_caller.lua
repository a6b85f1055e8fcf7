-- dial, a new caller on every request: every request queues a welcome SMS.
-- Callers are +1415 <thread digit> <6-digit counter>: possible NANP numbers.
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
  local from = string.format("%%2B1415%d%06d", id % 10, counter % 1000000)
  return wrk.format("GET", "/v1/ivr?key=" .. key .. "&from=" .. from .. "&to=" .. to)
end
