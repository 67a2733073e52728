-- The benchmark's search with a new price cap on each request (100 to 999 cents), so that almost
-- every request misses the directory's half-second answer cache: the cost of computing a search.
math.randomseed(os.time())
local base = wrk.path
request = function()
    return wrk.format("GET", base .. "&maxPriceCents=" .. math.random(100, 999))
end
