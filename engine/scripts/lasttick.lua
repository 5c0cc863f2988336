-- Reads a schedule's last tick started (ms). A schedule never seen gets Redis's clock
-- as its last tick, so that it starts with its next tick rather than catch up on the
-- past, whatever the clock of the process asking.
-- KEYS: 1 the schedule's key
-- ARGV: 1 how long it is kept (ms)
local _, now_s = now_ms()
redis.call('SET', KEYS[1], now_s, 'NX', 'PX', ARGV[1])
return redis.call('GET', KEYS[1])
