-- dial, a new caller on every request: every request queues a welcome SMS.
-- Callers are +1415 <thread digit> <6-digit counter>: possible NANP numbers.
dofile("bench/callers.lua")
function request()
  return wrk.format("GET", "/v1/ivr?key=" .. key .. "&from=" .. next_caller("%2B") .. "&to=" .. to)
end
