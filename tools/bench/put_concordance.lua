-- wrk script: PUT 256-byte JSON string values to Concordance over REST,
-- spread over 10,000 keys. Prints p50/p99 in a parseable line at the end.
local value = '"' .. string.rep("v", 254) .. '"'  -- 256 bytes of JSON
local body = '{"value":' .. value .. '}'
local counter = 0
local key_header = os.getenv("BENCH_AUTH")

request = function()
  counter = counter + 1
  local path = "/api/v1/kv/tenant:bench/settings/k" .. (counter % 10000)
  local headers = { ["Content-Type"] = "application/json" }
  if key_header then headers["Authorization"] = "Bearer " .. key_header end
  return wrk.format("PUT", path, headers, body)
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d non2xx=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, summary.errors.status, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
