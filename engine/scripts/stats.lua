-- Reads a shard's queue for the metrics and changes nothing. It visits the workflows
-- with queued jobs (the due index) and those with runs (the workflows set), a few
-- O(1) or O(log n) reads each.
-- KEYS: 1 due index, 2 leases zset, 3 dead zset, 4 workflows set, 5 unfinished runs count
-- ARGV: 1 shard prefix, 2 retention ms
-- Returns {ready, scheduled, running, waiting, dead, unfinished, lag}: jobs due now,
-- jobs due later (retries, delays), leased jobs, first jobs of runs waiting for a
-- concurrency slot, dead letters of the retention (an older one's job has expired,
-- though its entry waits for the trim), runs started and not finished, and how long
-- ago (ms) the oldest ready job became due (0 when none is).
local prefix, retention = ARGV[1], tonumber(ARGV[2])
local now = now_ms()
local ready, scheduled, waiting = 0, 0, 0
local oldest
for _, wf in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local key = prefix .. 'ready:' .. wf
  local due = redis.call('ZCOUNT', key, '-inf', now)
  ready = ready + due
  scheduled = scheduled + redis.call('ZCARD', key) - due
  if due > 0 then
    local at = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2])
    if not oldest or at < oldest then
      oldest = at
    end
  end
end
for _, wf in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  waiting = waiting + redis.call('ZCARD', prefix .. 'pending:' .. wf)
end
local lag = 0
if oldest then
  lag = math.max(now - oldest, 0)
end
local open = tonumber(redis.call('GET', KEYS[5]) or '0')
return {ready, scheduled, redis.call('ZCARD', KEYS[2]), waiting, redis.call('ZCOUNT', KEYS[3], '(' .. digits(now - retention), '+inf'), open, lag}
