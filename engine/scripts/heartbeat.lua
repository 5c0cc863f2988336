-- Extends a lease while its holder still holds it.
-- KEYS: 1 job hash, 2 leases zset
-- ARGV: 1 job id, 2 token, 3 lease ms
-- Returns 1 when extended, 0 when the job is no longer the caller's: it was committed,
-- or its lease expired and was taken back.
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[2] then
  return 0
end
redis.call('ZADD', KEYS[2], now_ms() + tonumber(ARGV[3]), ARGV[1])
return 1
