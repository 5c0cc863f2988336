-- The lock a poll of a poll trigger holds while it runs, so that one poll of the
-- trigger runs at a time, whatever the number of processes. The key holds the holder
-- and when its hold ends (ms): the embedded Redis counts a key's time to live down only
-- now and then, so a hold that is over is taken for gone, whatever its time to live
-- says.
-- KEYS: 1 the poll's lock
-- ARGV: 1 what to do: 'take' (the lock, unless another holder has it), 'keep' (the
--       lock the holder has, from now) or 'free' (the lock, if the holder has it);
--       2 the holder; 3 for 'take' and 'keep', how long the hold lasts (ms).
-- Returns 1 when the holder has the lock ('take', 'keep') or freed it ('free'), else
-- 0: another holder has it, or for 'keep' the holder's hold is over.
local mode, holder, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = now_ms()
local v = redis.call('GET', KEYS[1])
local who, ends = nil, nil
if v then
  who, ends = string.match(v, '^(.*) (%d+)$')
end
local held = who and tonumber(ends) > now
if mode == 'free' then
  if who ~= holder then
    return 0
  end
  redis.call('DEL', KEYS[1])
  return 1
end
if held and who ~= holder or mode == 'keep' and not (held and who == holder) then
  return 0
end
redis.call('SET', KEYS[1], holder .. ' ' .. digits(now + ttl), 'PX', ttl)
return 1
