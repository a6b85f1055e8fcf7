-- POST JSON, a new caller on every request.
dofile("bench/callers.lua")
function request()
  local body = string.format('{"key":"%s","from":"%s","to":"%s"}', key, next_caller("+"), to)
  return wrk.format("POST", "/v1/ivr", { ["Content-Type"] = "application/json" }, body)
end
