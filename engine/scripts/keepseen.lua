-- Makes the dedupe keys that exist last a window from now: the items a poll reads
-- again stay seen. A key that holds a run's id holds its window's end too (start.lua),
-- which moves with it.
-- KEYS: the dedupe keys, of one workflow (one shard). ARGV: 1 the window, ms.
local now = now_ms()
local window = tonumber(ARGV[1])
for _, key in ipairs(KEYS) do
  local v = redis.call('GET', key)
  if v then
    local id = string.match(v, '^(.*) %d+$')
    if id then
      redis.call('SET', key, id .. ' ' .. digits(now + window), 'PX', window)
    else
      redis.call('PEXPIRE', key, window)
    end
  end
end
return 0
