-- Leases up to max due jobs of one shard to a worker. Each lease gets a fresh token
-- from the shard's counter; only the holder of the current token can commit the job.
-- First, every expired lease is taken back: its worker died or lost Redis, so its job
-- is due again now (the old token can no longer commit). Every worker does this as it
-- leases; no process is special. A job whose lease expired max_reaps times in a row is
-- taken to crash its workers: it is queued once more marked 'crashed', and the worker
-- that leases it records it failed without running it, so that the planner decides
-- what its failure means for the run.
-- A run's event larger than big_event bytes is left out of its fields: the items of a
-- for_each step would each copy it from Redis again, several times (a workflow step's
-- item parks and wakes), for a worker that keeps it decoded (eventcache.go) and reads it
-- once, with one HGET, when it does not have it.
-- KEYS: 1 due index (workflow -> earliest due time), 2 leases zset, 3 token counter, 4 wake list
-- ARGV: 1 shard prefix, 2 max jobs, 3 lease ms, 4 most expired leases of a job, 5 big_event
-- Returns {wait, job, ...}: wait is -1 when jobs were leased or nothing is queued or
-- leased, else the ms until the earliest queued job is due or lease expires; a job is
-- {job id, token, attempt, step, part, {run hash fields and values}, item key JSON,
-- item value JSON, crash error, held record, an item's record of its last attempt,
-- how many pages its paginated step kept (page.lua), its items hash's map field},
-- false for those it does not have; then, for a job whose last leases expired, how
-- many in a row (its attempts whose workers stopped while they ran), left out for
-- the others (a first attempt is never one of those: it costs them nothing), false
-- when the next follows; then, for a job whose run's event was left out of its
-- fields, the event's length (HSTRLEN), left out for the others.
local K = {due = KEYS[1], leases = KEYS[2], tokens = KEYS[3], wake = KEYS[4]}
local prefix, max, lease, max_reaps = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local big_event = tonumber(ARGV[5])
local now, now_s = now_ms()

-- run_fields is a run hash's fields and values, as HGETALL gives them, with its event
-- left out when it is larger than big_event bytes; then that event's length, or nil.
local function run_fields(run)
  local size = redis.call('HSTRLEN', run, 'event')
  if size <= big_event then
    return redis.call('HGETALL', run), nil
  end
  local names, out = {}, {}
  for _, name in ipairs(redis.call('HKEYS', run)) do
    if name ~= 'event' then
      names[#names + 1] = name
    end
  end
  for i = 1, #names, 256 do -- unpack's arguments stay few
    local part = {unpack(names, i, math.min(i + 255, #names))}
    local values = redis.call('HMGET', run, unpack(part))
    for n, name in ipairs(part) do
      out[#out + 1] = name
      out[#out + 1] = values[n]
    end
  end
  return out, size
end

local expired = redis.call('ZRANGEBYSCORE', K.leases, '-inf', now_s, 'LIMIT', '0', '256')
for _, id in ipairs(expired) do
  redis.call('ZREM', K.leases, id)
  local job = prefix .. 'job:' .. id
  local fields = redis.call('HMGET', job, 'wf', 'step')
  local wf, step = fields[1], fields[2]
  if wf then
    redis.call('HDEL', job, 'token')
    if redis.call('HINCRBY', job, 'reaped', 1) >= max_reaps then
      redis.call('HSET', job, 'crashed', 'step ' .. step .. ': its worker stopped ' .. max_reaps ..
        ' times in a row while running it (it crashed, or lost Redis for longer than its lease)')
    end
    local Q = {ready = prefix .. 'ready:' .. wf, due = K.due, wake = K.wake}
    enqueue(Q, wf, id, now_s)
  end
end

local out = {-1}
local wfs = redis.call('ZRANGEBYSCORE', K.due, '-inf', now_s, 'LIMIT', '0', '64')
for _, wf in ipairs(wfs) do
  local ready = prefix .. 'ready:' .. wf
  local ids = redis.call('ZRANGEBYSCORE', ready, '-inf', now_s, 'LIMIT', '0', digits(max - (#out - 1)))
  for _, id in ipairs(ids) do
    redis.call('ZREM', ready, id)
    local job = prefix .. 'job:' .. id
    local f = redis.call('HMGET', job, 'run', 'step', 'part', 'crashed', 'held', 'pages')
    local runid, step, part, crashed, held, pages = f[1], f[2], f[3] or '', f[4], f[5], f[6]
    if runid and redis.call('EXISTS', prefix .. 'run:' .. runid) == 0 then
      -- A job of a run that is gone (dropped past the finished runs kept, keep.lua, or
      -- expired past the retention) while it was queued: nothing is left to run it for.
      redis.call('DEL', job)
    elseif runid then
      local token = digits(redis.call('INCR', K.tokens))
      local attempt = redis.call('HINCRBY', job, 'attempt', 1)
      redis.call('HSET', job, 'token', token)
      redis.call('ZADD', K.leases, digits(now + lease), id)
      local run = prefix .. 'run:' .. runid
      if redis.call('HGET', run, 'status') == RUN_QUEUED then
        redis.call('HSET', run, 'status', RUN_RUNNING, 'started', now_s)
      end
      local key, value, last, listed = false, false, false, false
      if part ~= '' and part ~= 'join' then
        local kv = redis.call('HMGET', prefix .. 'items:' .. runid .. ':' .. step, 'k:' .. part, 'v:' .. part, 'map')
        key, value, listed = kv[1], kv[2], kv[3]
        if attempt > 1 then -- a retried item: its requests so far are in its record
          last = redis.call('HGET', prefix .. 'results:' .. runid .. ':' .. step, part)
        end
      end
      local fields, event_size = run_fields(run)
      local leased = {id, token, attempt, step, part, fields, key, value, crashed, held, last, pages, listed}
      if attempt > 1 then -- the leases before this one may have expired
        local reaped = redis.call('HGET', job, 'reaped')
        if reaped then
          leased[14] = reaped
        end
      end
      if event_size then
        leased[14] = leased[14] or false
        leased[15] = event_size
      end
      out[#out + 1] = leased
    end
  end
  local head = redis.call('ZRANGE', ready, 0, 0, 'WITHSCORES')
  if #head == 0 then
    redis.call('ZREM', K.due, wf)
  else
    redis.call('ZADD', K.due, head[2], wf)
  end
  if #out - 1 >= max then
    break
  end
end

if #out == 1 then
  local next
  for _, key in ipairs({K.due, K.leases}) do
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
