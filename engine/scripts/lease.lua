-- Leases up to ARGV[2] due jobs of one shard to a worker. Each lease gets a fresh token
-- from the shard's counter; only the holder of the current token can commit the job.
-- KEYS: 1 due index (workflow -> earliest due time), 2 leases zset, 3 token counter
-- ARGV: 1 key prefix of the shard, 2 max jobs, 3 lease ms
-- Returns {wait, job, ...}: wait is -1 when jobs were leased or none is queued, else
-- the ms until the earliest queued job is due; a job is
-- {job id, token, attempt, step, {run hash fields and values}}.
local now = now_ms()
local prefix, max, lease = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {-1}
local wfs = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 64)
for _, wf in ipairs(wfs) do
  local ready = prefix .. 'ready:' .. wf
  local ids = redis.call('ZRANGEBYSCORE', ready, '-inf', now, 'LIMIT', 0, max - (#out - 1))
  for _, id in ipairs(ids) do
    redis.call('ZREM', ready, id)
    local job = prefix .. 'job:' .. id
    local runid = redis.call('HGET', job, 'run')
    if runid then
      local token = redis.call('INCR', KEYS[3])
      local attempt = redis.call('HINCRBY', job, 'attempt', 1)
      redis.call('HSET', job, 'token', token)
      redis.call('ZADD', KEYS[2], now + lease, id)
      local run = prefix .. 'run:' .. runid
      if redis.call('HGET', run, 'status') == 'queued' then
        redis.call('HSET', run, 'status', 'running', 'started', now)
      end
      out[#out + 1] = {id, tostring(token), attempt, redis.call('HGET', job, 'step'), redis.call('HGETALL', run)}
    end
  end
  local head = redis.call('ZRANGE', ready, 0, 0, 'WITHSCORES')
  if #head == 0 then
    redis.call('ZREM', KEYS[1], wf)
  else
    redis.call('ZADD', KEYS[1], head[2], wf)
  end
  if #out - 1 >= max then
    break
  end
end
if #out == 1 then
  local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if #head > 0 then
    out[1] = math.max(tonumber(head[2]) - now, 0)
  end
end
return out
