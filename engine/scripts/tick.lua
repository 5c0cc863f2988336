-- Claims a schedule's tick: the first process to claim it starts its run; a tick at or
-- before the last one claimed is refused. A last tick more than a minute past Redis's
-- clock was claimed by a process whose clock is wrong: it is not trusted, or one such
-- process would stop the schedule for every other until its time came.
-- KEYS: 1 the schedule's key
-- ARGV: 1 tick (ms), 2 ttl (ms)
-- Returns 1 when the caller claimed the tick, 0 when it was claimed already.
local tick = tonumber(ARGV[1])
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if last >= tick and last <= now_ms() + 60000 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
