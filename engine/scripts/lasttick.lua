-- Reads a schedule's last tick started (ms). A schedule never seen gets Redis's clock
-- as its last tick, so that it starts with its next tick rather than catch up on the
-- past, whatever the clock of the process asking; or, given the key the schedule had
-- before (a poll's, whose key once named its schedule), the last tick kept there, so
-- that the upgrade that changed its key catches up on a tick missed as a restart does.
-- KEYS: 1 the schedule's key, 2 (optional) the key it had before
-- ARGV: 1 how long it is kept (ms)
local _, now_s = now_ms()
local first = now_s
if KEYS[2] then
  first = redis.call('GET', KEYS[2]) or now_s
end
redis.call('SET', KEYS[1], first, 'NX', 'PX', ARGV[1])
return redis.call('GET', KEYS[1])
