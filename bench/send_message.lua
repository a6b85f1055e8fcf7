-- The Bot API's send, text into one thread (args: token, thread id).
function init(args)
  token = args[1]
  thread = args[2]
  n = 0
end
function request()
  n = n + 1
  local body = string.format('{"text":"bench message %d","customerThreadId":"%s"}', n, thread)
  return wrk.format("POST", "/api/send-message-to-customer-thread",
    { ["Content-Type"] = "application/json", ["token"] = token }, body)
end
dofile("bench/report.lua")
