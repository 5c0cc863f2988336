-- Leases up to ARGV[2] due jobs of one shard to a worker. Each lease gets a fresh token
-- from the shard's counter; only the holder of the current token can commit the job.
-- First, every expired lease is taken back: its worker died or lost Redis, so its job
-- is due again now (the old token can no longer commit). Every worker does this as it
-- leases; no process is special. A job whose lease expired ARGV[4] times in a row is
-- taken to crash its workers: its run fails and the job goes to the dead letters.
-- KEYS: 1 due index (workflow -> earliest due time), 2 leases zset, 3 token counter, 4 wake list
-- ARGV: 1 shard prefix, 2 max jobs, 3 lease ms, 4 most expired leases of a job, 5 retention ms
-- Returns {wait, {workflow, ...}, job, ...}: wait is -1 when jobs were leased or nothing
-- is queued or leased, else the ms until the earliest queued job is due or lease
-- expires; the list names the workflow of each run this call failed (its job expired
-- too often); a job is {job id, token, attempt, step, {run hash fields and values}}.
local now = now_ms()
local prefix, max, lease = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local max_reaps, retention = tonumber(ARGV[4]), tonumber(ARGV[5])
local failed = {}

local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 256)
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[2], id)
  local job = prefix .. 'job:' .. id
  local fields = redis.call('HMGET', job, 'wf', 'run', 'step', 'attempt')
  local wf, runid, step, attempt = fields[1], fields[2], fields[3], fields[4]
  if wf then
    redis.call('HDEL', job, 'token')
    if redis.call('HINCRBY', job, 'reaped', 1) < max_reaps then
      enqueue(prefix, wf, id, now)
    else
      local err = 'step ' .. step .. ': its worker stopped ' .. max_reaps ..
        ' times in a row while running it (it crashed, or lost Redis for longer than its lease)'
      record(prefix .. 'run:' .. runid, step, now, 0,
        cjson.encode({status = 'failed', attempt = tonumber(attempt), error = err}), '')
      dead_letter(prefix, id, runid, err, now, retention)
      finish_run(prefix, runid, wf, 'failed', err, now, retention)
      failed[#failed + 1] = wf
    end
  end
end

local out = {-1, failed}
local wfs = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 64)
for _, wf in ipairs(wfs) do
  local ready = prefix .. 'ready:' .. wf
  local ids = redis.call('ZRANGEBYSCORE', ready, '-inf', now, 'LIMIT', 0, max - (#out - 2))
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
  if #out - 2 >= max then
    break
  end
end

if #out == 2 then
  local next
  for _, key in ipairs({KEYS[1], KEYS[2]}) do
    local head = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if #head > 0 and (not next or tonumber(head[2]) < next) then
      next = tonumber(head[2])
    end
  end
  if next then
    out[1] = math.max(next - now, 0)
  end
end
return out
