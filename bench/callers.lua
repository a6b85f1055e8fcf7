-- Per-thread counters for scenarios that need a new caller on every request:
-- +1 <area code> <thread digit> <6-digit counter>, a possible NANP number.
-- Arguments: key, business number, run number. bench/run gives every run its
-- own run number, hence its own area code: a later run (or the warm-up) never
-- repeats an earlier run's callers, which would hit the cool-down instead.
dofile("bench/report.lua")
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
function init(args)
  key, to, counter = args[1], args[2], 0
  area = 200 + (tonumber(args[3] or "0") % 800)
end
function next_caller(plus)
  counter = counter + 1
  return string.format("%s1%03d%d%06d", plus, area, id % 10, counter % 1000000)
end
