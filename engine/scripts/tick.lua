-- Records a schedule's tick as its last, unless a later one is recorded already.
-- KEYS: 1 the schedule's key
-- ARGV: 1 tick (ms), 2 ttl (ms)
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > last then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 0
