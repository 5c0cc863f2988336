-- Functions every script shares; they are prepended to each script when it loads.

-- now_ms is Redis's clock in milliseconds. Scripts never use a worker's clock.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- enqueue queues a workflow's job to be due at a time, keeps the shard's due index at
-- the workflow's earliest job, and wakes one waiting worker. The wake list is capped:
-- it is a signal that work may be waiting, not a count of it.
local function enqueue(ready, due, wake, workflow, job, at)
  redis.call('ZADD', ready, at, job)
  local cur = redis.call('ZSCORE', due, workflow)
  if not cur or tonumber(cur) > at then
    redis.call('ZADD', due, at, workflow)
  end
  redis.call('LPUSH', wake, '1')
  redis.call('LTRIM', wake, 0, 63)
end
