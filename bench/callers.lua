-- Per-thread counters for scenarios that need a new caller on every request:
-- a number <prefix><thread digit><6-digit counter>. Arguments: key, business number.
dofile("bench/report.lua")
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
function init(args)
  key, to, counter = args[1], args[2], 0
end
function next_caller(prefix)
  counter = counter + 1
  return string.format("%s%d%06d", prefix, id % 10, counter % 1000000)
end
