-- Reads or writes the dedupe keys of a poll's items. A key holds a run's id (or '-',
-- an item marked seen without a run) and when its window ends (start.lua): the
-- embedded Redis counts a key's time to live down only now and then, so a key whose
-- window is over is taken for gone, and deleted, whatever its time to live says.
-- KEYS: the dedupe keys, of one workflow (one shard).
-- ARGV: 1 what to do: 'seen' (which keys are within their window: 1 or 0 each),
--       'mark' (those that are not: seen for the window, without a run) or 'keep'
--       (those that are: seen for the window from now); 2 the window, ms; 3 for
--       'mark', what a key holds in place of a run id.
local now = now_ms()
local mode, window = ARGV[1], tonumber(ARGV[2])
local out = {}
for i, key in ipairs(KEYS) do
  local v = redis.call('GET', key)
  local id, ends = nil, nil
  if v then
    id, ends = string.match(v, '^(.*) (%d+)$')
    if id and tonumber(ends) <= now then
      redis.call('DEL', key)
      v = nil
    end
  end
  if mode == 'seen' then
    out[i] = v and 1 or 0
  elseif mode == 'mark' then
    if not v then
      redis.call('SET', key, ARGV[3] .. ' ' .. digits(now + window), 'PX', window)
    end
  elseif v then
    redis.call('SET', key, (id or v) .. ' ' .. digits(now + window), 'PX', window)
  end
end
return out
