-- Hands a leased job back to the queue, due now, when its holder stops before the step
-- finished. The holder's token can no longer commit it.
-- KEYS: 1 job hash, 2 leases zset, 3 ready zset of the workflow, 4 due index, 5 wake list
-- ARGV: 1 job id, 2 token, 3 workflow
-- Returns 1 when handed back, 0 when the job was no longer the caller's.
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[2] then
  return 0
end
redis.call('HDEL', KEYS[1], 'token')
redis.call('ZREM', KEYS[2], ARGV[1])
enqueue(KEYS[3], KEYS[4], KEYS[5], ARGV[3], ARGV[1], now_ms())
return 1
