-- PUT /v1/me/consents, turning marketing email on and off in turn, so every request is a change
-- that accounts writes (consent history and an audit entry).
wrk.method = "PUT"
wrk.headers["Content-Type"] = "application/json"
local on = false
request = function()
    on = not on
    return wrk.format(nil, nil, nil, '{"marketingEmail": ' .. tostring(on) .. '}')
end
