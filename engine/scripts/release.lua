-- Hands a leased job back to the queue, due now, when its holder stops before the step
-- finished. The holder's token can no longer commit it. The attempt it was leased for
-- did not happen, so it is not counted.
-- KEYS: 1 job hash
-- ARGV: 1 shard prefix, 2 job id, 3 token, 4 workflow
-- Returns 1 when handed back, 0 when the job was no longer the caller's.
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[3] then
  return 0
end
redis.call('HDEL', KEYS[1], 'token')
redis.call('HINCRBY', KEYS[1], 'attempt', -1)
redis.call('ZREM', ARGV[1] .. 'leases', ARGV[2])
enqueue(ARGV[1], ARGV[4], ARGV[2], now_ms())
return 1
