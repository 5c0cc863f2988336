-- Extends a lease while its holder still holds it.
-- KEYS: 1 job hash, 2 leases zset
-- ARGV: 1 job id, 2 token, 3 lease ms
-- Returns 1 when extended, 0 when the job is no longer the caller's: it was committed,
-- or its lease expired and was taken back; 2 when its run was cancelled.
local K = {job = KEYS[1], leases = KEYS[2]}
local jobid, token, lease = ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call('HGET', K.job, 'token') ~= token then
  if redis.call('HEXISTS', K.job, 'cancelled') == 1 then
    return 2
  end
  return 0
end
redis.call('ZADD', K.leases, now_ms() + lease, jobid)
return 1
