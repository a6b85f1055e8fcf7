-- The same request every time (the URL wrk is given).
dofile("bench/report.lua")
