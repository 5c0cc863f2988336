-- Claims a tick of a schedule that starts no run of its own (a poll trigger's), by the
-- rules start.lua claims the tick of a schedule's run with: the key holds the last tick
-- claimed (ms); a tick at or before it is refused with ERR_TICK_TAKEN, unless the last
-- is more than a minute past Redis's clock (a process whose clock was wrong claimed
-- it); a tick more than a minute past Redis's clock is refused with ERR_CLOCK.
-- KEYS: 1 the schedule's key
-- ARGV: 1 tick ms, 2 how long the key is kept (ms)
-- Returns 1 when the tick is claimed.
local tick, ttl = tonumber(ARGV[1]), ARGV[2]
local now = now_ms()
if tick > now + 60000 then
  return fail(ERR_CLOCK, 'the tick ' .. ARGV[1] .. ' is more than a minute past the clock of Redis (' .. now .. '): this clock is ahead')
end
local last = tonumber(redis.call('GET', KEYS[1]) or '')
if last and last >= tick and last <= now + 60000 then
  return fail(ERR_TICK_TAKEN, 'a later tick was claimed already')
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
return 1
