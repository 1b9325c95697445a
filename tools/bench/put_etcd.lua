-- wrk script: the same workload against etcd's v3 JSON gateway
-- (POST /v3/kv/put, key and value base64), 256-byte values, 10,000 keys.
local b64chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
local function b64(data)
  return ((data:gsub('.', function(x)
    local r, b = '', x:byte()
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and '1' or '0') end
    return r
  end) .. '0000'):gsub('%d%d%d?%d?%d?%d?', function(x)
    if (#x < 6) then return '' end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == '1' and 2 ^ (6 - i) or 0) end
    return b64chars:sub(c + 1, c + 1)
  end) .. ({ '', '==', '=' })[#data % 3 + 1])
end
local value = b64('"' .. string.rep("v", 254) .. '"')
local bodies = {}
for i = 0, 9999 do
  bodies[i] = '{"key":"' .. b64("bench/settings/k" .. i) .. '","value":"' .. value .. '"}'
end
local counter = 0

request = function()
  counter = counter + 1
  return wrk.format("POST", "/v3/kv/put", { ["Content-Type"] = "application/json" },
    bodies[counter % 10000])
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d non2xx=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, summary.errors.status, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
