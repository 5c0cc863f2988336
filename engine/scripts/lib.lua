-- Functions every script shares; they are prepended to each script when it loads.
-- Scripts derive a shard's keys from its prefix, '{hf:N}:': every key of a shard has
-- its hash tag, so a script touches one Redis Cluster slot.

-- now_ms is Redis's clock in milliseconds. Scripts never use a worker's clock.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function ms(n)
  return string.format('%.0f', n)
end

-- enqueue queues a workflow's job to be due at a time, keeps the shard's due index at
-- the workflow's earliest job, and wakes one waiting worker. The wake list is capped:
-- it is a signal that work may be waiting, not a count of it.
local function enqueue(prefix, workflow, job, at)
  local due = prefix .. 'due'
  redis.call('ZADD', prefix .. 'ready:' .. workflow, at, job)
  local cur = redis.call('ZSCORE', due, workflow)
  if not cur or tonumber(cur) > at then
    redis.call('ZADD', due, at, workflow)
  end
  redis.call('LPUSH', prefix .. 'wake', '1')
  redis.call('LTRIM', prefix .. 'wake', 0, 63)
end

-- limit is a workflow's concurrency limit, 0 for none. The process that starts a run
-- sets it from the workflow version it has loaded: the last one to start a run wins,
-- so a limit edited by a reload applies to every run waiting.
local function limit(prefix, workflow)
  return tonumber(redis.call('GET', prefix .. 'limit:' .. workflow) or '0')
end

-- admit gives free concurrency slots of a workflow to the runs waiting longest: their
-- next job is queued and the run holds a slot until it finishes. Without a limit, every
-- waiting run is admitted (the workflow's limit was lifted).
local function admit(prefix, workflow, now)
  local inflight, pending = prefix .. 'inflight:' .. workflow, prefix .. 'pending:' .. workflow
  local max = limit(prefix, workflow)
  while max == 0 or redis.call('ZCARD', inflight) < max do
    local head = redis.call('ZPOPMIN', pending)
    if #head == 0 then
      return
    end
    local runid = redis.call('HGET', prefix .. 'job:' .. head[1], 'run')
    if runid then
      redis.call('ZADD', inflight, now, runid)
      enqueue(prefix, workflow, head[1], now)
    end
  end
end

-- queue_run queues the next job of a run that holds no worker: at once when the run
-- holds a slot of its workflow, or there is no limit and no run waiting; else the run
-- gets in line, behind the runs waiting longer, for a slot. Every run in flight holds
-- a slot, limit or none, so that a limit set again counts the runs already going.
local function queue_run(prefix, workflow, runid, job, now)
  local inflight, pending = prefix .. 'inflight:' .. workflow, prefix .. 'pending:' .. workflow
  if redis.call('ZSCORE', inflight, runid) then
    enqueue(prefix, workflow, job, now)
    return
  end
  if limit(prefix, workflow) == 0 and redis.call('EXISTS', pending) == 0 then
    redis.call('ZADD', inflight, now, runid)
    enqueue(prefix, workflow, job, now)
    return
  end
  -- In line by arrival: a sequence, as runs arriving in one millisecond tie on time.
  redis.call('ZADD', pending, redis.call('INCR', prefix .. 'seq'), job)
  admit(prefix, workflow, now)
end

-- record writes a step's result into its run: the JSON object result (at least one
-- field) with finished and duration_ms in front, and extra fields (JSON text, each
-- with a leading comma) after them.
local function record(run, step, now, duration, result, extra)
  redis.call('HSET', run, 's:' .. step,
    '{"finished":' .. ms(now) .. ',"duration_ms":' .. duration .. extra .. ',' .. string.sub(result, 2))
end

-- finish_run ends a run, starts its retention, and frees its concurrency slot for the
-- next waiting run.
local function finish_run(prefix, runid, workflow, status, err, now, retention)
  local run = prefix .. 'run:' .. runid
  redis.call('HSET', run, 'status', status, 'finished', now, 'error', err)
  redis.call('PEXPIRE', run, retention)
  redis.call('DECR', prefix .. 'open')
  if redis.call('ZREM', prefix .. 'inflight:' .. workflow, runid) == 1 then
    admit(prefix, workflow, now)
  end
end

-- dead_letter keeps a job that failed its run in the shard's dead-letter set, with its
-- attempts and error, for the retention period; a replay takes it out.
local function dead_letter(prefix, jobid, runid, err, now, retention)
  local job, dead = prefix .. 'job:' .. jobid, prefix .. 'dead'
  redis.call('HDEL', job, 'token')
  redis.call('HSET', job, 'error', err, 'dead', now)
  redis.call('PEXPIRE', job, retention)
  redis.call('ZADD', dead, now, jobid)
  redis.call('ZREMRANGEBYSCORE', dead, '-inf', now - retention)
  redis.call('HSET', prefix .. 'run:' .. runid, 'dead', jobid)
end
