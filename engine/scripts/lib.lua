-- Functions every script shares; they are prepended to each script when it loads.
-- Every key of a shard carries its hash tag '{hf:N}', so a script touches one Redis
-- Cluster slot. A script gets the keys it knows of in KEYS; the only keys it makes
-- itself are those of jobs and runs it finds in the shard's own indexes (a run
-- admitted from the line for a slot, an item taken from a todo list, a job leased),
-- named from the shard's prefix as engine/keys.go names them.

-- Error replies are a code, a space and a message; engine/scripts.go maps each code
-- to its Go error.
local ERR_STALE = 'HFSTALE'         -- the caller's lease token is no longer the job's
local ERR_NOT_FOUND = 'HFNOTFOUND'  -- no such run
local ERR_NOT_FAILED = 'HFNOTFAILED' -- only a failed run can be replayed
local ERR_BUSY = 'HFBUSY'           -- too many runs unfinished
local ERR_CLOCK = 'HFCLOCK'         -- a tick far ahead of Redis's clock
local ERR_TICK_TAKEN = 'HFTICK'     -- a later tick of the schedule started already
local ERR_FINISHED = 'HFFINISHED'   -- the run has finished: it cannot be cancelled
local ERR_RESUMED = 'HFRESUMED'     -- the wait step was resumed already
local ERR_WAIT_OVER = 'HFWAITOVER' -- the wait step timed out, or ended otherwise
local ERR_PAST_DEADLINE = 'HFDEADLINE' -- the run's timeout has passed

local function fail(code, msg)
  return redis.error_reply(code .. ' ' .. msg)
end

-- Run statuses, as engine/record.go names them.
local RUN_QUEUED, RUN_RUNNING, RUN_SUCCEEDED, RUN_FAILED = 'queued', 'running', 'succeeded', 'failed'
local RUN_CANCELLED = 'cancelled'
local RUN_WAITING = 'waiting' -- parked at a wait step (running, as far as the queue goes)

-- Lease tokens. Only the holder of a job's current token can commit it, heartbeat it or
-- give it back, so a worker whose lease expired (it stalled, or lost Redis) cannot
-- commit over the worker the job went to next. That needs no token to be given twice
-- to one job, and no more: a commit names its job. A lease that lease.lua gives (a
-- queued job, a job taken back) gets a fresh number from the shard's counter. The
-- other leases go to jobs just made: a run's first job, leased by its start, holds
-- first_token, 's' and the run's creation time, which no counter gives; the next job a
-- commit leases to the committing worker (advance.lua, complete.lua) holds the
-- committing job's token, and that job is gone, or has no token left (dead letters),
-- once the commit is written. A run's id may come again (a child run's is its parent
-- step's, started anew when a replay runs the step again after the child was
-- dropped), but not in the millisecond it was made before: the run had to end and be
-- dropped first. A job made again in its run (a replay) is queued, so leased with a
-- fresh number. No call to the counter on the straight line, then: only queued and
-- taken-back jobs use it.
local function first_token(created_s)
  return 's' .. created_s
end

-- ms_digits is the milliseconds of a TIME reply ({seconds, microseconds}, digits
-- without leading zeros) as digits, cut from the reply's: Redis writes a number given
-- to redis.call out with snprintf, thousands of instructions a number (as many as a
-- small command), and so does Lua's tostring.
local function ms_digits(t)
  local us = t[2]
  return t[1] .. string.sub('00' .. (#us > 3 and string.sub(us, 1, -4) or '0'), -3)
end

-- now_ms is Redis's clock in milliseconds, as a number and as its digits (ms_digits).
-- Scripts never use a worker's clock. A time that goes into a command goes as the
-- digits.
local function now_ms()
  local now_s = ms_digits(redis.call('TIME'))
  return tonumber(now_s), now_s
end

-- digits is an integer's decimal digits. Redis writes a number given to redis.call out
-- with snprintf("%.17g"), and Lua's tostring with "%.14g": floating-point formatting,
-- about three times the cost of "%d". A number a script computes (a lease's expiry, a
-- token) goes into a command as its digits.
local function digits(n)
  return string.format('%d', n)
end

-- Q names the keys of a workflow's queue in a shard; each script fills it from KEYS.
--   ready: queued jobs by due time, due: workflows by earliest due time, wake: the
--   wake-up list, inflight: runs holding a slot, pending: runs waiting for one,
--   limit: the concurrency limit, seq: arrival order, open: unfinished runs,
--   dead: dead letters.

-- enqueue queues a job to be due at a time, keeps the shard's due index at the
-- workflow's earliest job, and wakes one waiting worker. The wake list is capped: it
-- is a signal that work may be waiting, not a count of it.
local function enqueue(Q, wf, job, at)
  redis.call('ZADD', Q.ready, at, job)
  redis.call('ZADD', Q.due, 'LT', at, wf) -- added, or moved earlier, never later
  if redis.call('LPUSH', Q.wake, '1') > 64 then
    redis.call('LTRIM', Q.wake, 0, 63)
  end
end

-- new_job writes a job's hash: its run, workflow, step and part ('' for the step, an
-- item's index, or 'join'), not yet attempted. Job ids are deterministic: a job that
-- exists already is left as it is, and new_job reports false.
local function new_job(key, runid, wf, step, part)
  if redis.call('EXISTS', key) == 1 then
    return false
  end
  redis.call('HSET', key, 'run', runid, 'wf', wf, 'step', step, 'part', part, 'attempt', 0)
  return true
end

-- limit is a workflow's concurrency limit, 0 for none. The process that starts a run
-- sets it from the workflow version it has loaded, and so does a process that loads a
-- version (limit.lua): the last one wins, so a limit edited by a reload applies to
-- every run waiting.
local function limit(Q)
  return tonumber(redis.call('GET', Q.limit) or '0')
end

local function split(s)
  local out = {}
  for w in string.gmatch(s or '', '%S+') do
    out[#out + 1] = w
  end
  return out
end

-- admit gives free concurrency slots of a workflow to the runs waiting longest: their
-- first jobs are queued and the run holds a slot until it finishes. Without a limit,
-- every waiting run is admitted (the workflow's limit was lifted). A run waits in line
-- by its id, with the jobs to queue in its hash ('first'); a line written by an
-- earlier release, or for a run with one first job, holds the job itself.
local function admit(Q, prefix, wf, now)
  local max = limit(Q)
  while max == 0 or redis.call('ZCARD', Q.inflight) < max do
    local head = redis.call('ZPOPMIN', Q.pending)
    if #head == 0 then
      return
    end
    local member, runid, jobs = head[1], head[1], {}
    -- A member is a run waiting by its id (a run of this workflow with its first jobs
    -- in 'first'), or a first job. Child runs have ':' in their ids, as jobs do; a job's
    -- id may even be a child run's, of another workflow (workflows do not call
    -- themselves).
    local run_wf = redis.call('HGET', prefix .. 'run:' .. member, 'wf')
    if run_wf ~= wf then
      runid, jobs = redis.call('HGET', prefix .. 'job:' .. member, 'run') or string.match(member, '^[^:]+'), {member}
    else
      local run = prefix .. 'run:' .. runid
      jobs = split(redis.call('HGET', run, 'first'))
      redis.call('HDEL', run, 'first')
    end
    if #jobs > 0 then
      redis.call('ZADD', Q.inflight, now, runid)
      for _, job in ipairs(jobs) do
        enqueue(Q, wf, job, now)
      end
    end
  end
end

-- queue_run queues the first jobs of a run that holds no worker: at once when the run
-- holds a slot of its workflow, or there is no limit and no run waiting; else the run
-- gets in line, behind the runs waiting longer, for a slot. Every run in flight holds
-- a slot, limit or none, so that a limit set again counts the runs already going. A
-- start passes is_new (a new run holds no slot) and max, the limit it has just set;
-- other callers pass neither, and both are read.
local function queue_run(Q, prefix, wf, run, runid, jobs, now, is_new, max)
  if (not is_new and redis.call('ZSCORE', Q.inflight, runid)) or
      ((max or limit(Q)) == 0 and redis.call('EXISTS', Q.pending) == 0) then
    redis.call('ZADD', Q.inflight, now, runid)
    for _, job in ipairs(jobs) do
      enqueue(Q, wf, job, now)
    end
    return
  end
  -- In line by arrival: a sequence, as runs arriving in one millisecond tie on time. A
  -- run with one first job waits as that job, as releases before parallel blocks read
  -- the line (processes of both may share a Redis while one replaces the other).
  local seq = redis.call('INCR', Q.seq)
  if #jobs == 1 then
    redis.call('ZADD', Q.pending, seq, jobs[1])
  else
    redis.call('HSET', run, 'first', table.concat(jobs, ' '))
    redis.call('ZADD', Q.pending, seq, runid)
  end
  admit(Q, prefix, wf, now)
end

-- recorded is a record (engine/record.go's Record, a JSON object with at least one
-- field) with finished (the digits of now_ms) and duration_ms in front, and extra
-- fields (JSON text, each with a leading comma) after them.
local function recorded(finished, duration, rec, extra)
  return '{"finished":' .. finished .. ',"duration_ms":' .. duration .. extra .. ',' .. string.sub(rec, 2)
end

-- record writes a record, as recorded makes it, into field of a hash.
local function record(hash, field, finished, duration, rec, extra)
  redis.call('HSET', hash, field, recorded(finished, duration, rec, extra))
end

-- end_run ends a run whose status is written: it starts the run's retention (and that
-- of the keys its for_each steps left), and frees its concurrency slot for the next
-- waiting run, if one waits.
local function end_run(Q, prefix, wf, run, runid, now, retention, more)
  redis.call('PEXPIRE', run, retention)
  for _, key in ipairs(more) do
    redis.call('PEXPIRE', key, retention)
  end
  redis.call('DECR', Q.open)
  if redis.call('ZREM', Q.inflight, runid) == 1 and redis.call('EXISTS', Q.pending) == 1 then
    admit(Q, prefix, wf, now)
  end
end

-- finish_run ends a run with a status and error (end_run).
local function finish_run(Q, prefix, wf, run, runid, status, err, now, retention, more)
  redis.call('HSET', run, 'status', status, 'finished', now, 'error', err)
  end_run(Q, prefix, wf, run, runid, now, retention, more)
end

-- forget_pages drops the pages a paginated step kept in its job (page.lua): the job's
-- next attempt, if any, reads its list from the first page.
local function forget_pages(job)
  local n = tonumber(redis.call('HGET', job, 'pages') or '0')
  for i = 1, n do
    redis.call('HDEL', job, 'page:' .. i, 'request:' .. i)
  end
  redis.call('HDEL', job, 'pages', 'response')
end

-- dead_letter keeps a job that failed its run in the shard's dead-letter set, with its
-- attempts and error, for the retention period; a replay takes it out. The run names
-- its dead letter in 'dead'. A run may get a second (an on_failure step that could not
-- be resumed ends it after the step that failed it went to the dead letters): the one
-- 'dead' named before goes to 'dead_before', so that dropping the run (keep.lua) takes
-- every dead letter of it.
local function dead_letter(Q, job, jobid, run, err, now, retention)
  redis.call('HDEL', job, 'token')
  forget_pages(job)
  redis.call('HSET', job, 'error', err, 'dead', now)
  redis.call('PEXPIRE', job, retention)
  redis.call('ZADD', Q.dead, now, jobid)
  redis.call('ZREMRANGEBYSCORE', Q.dead, '-inf', now - retention)
  local before = redis.call('HGET', run, 'dead')
  if before and before ~= jobid then
    local earlier = redis.call('HGET', run, 'dead_before')
    if earlier then
      before = earlier .. ' ' .. before
    end
    redis.call('HSET', run, 'dead_before', before)
  end
  redis.call('HSET', run, 'dead', jobid)
end

-- push appends values to a list in chunks, as Lua unpacks only so many at once.
local function push(key, values, from, to)
  for i = from, to, 1000 do
    redis.call('RPUSH', key, unpack(values, i, math.min(i + 999, to)))
  end
end

-- hide_sensitive forgets the raw values a run that succeeded kept for its own steps
-- (engine/sensitive.go says which): the outputs of its sensitive steps (s:<step>
-- fields) and the resumes of its sensitive wait steps (w:<step>, dropped); the records
-- of the items of its sensitive for_each steps (results hashes); the values of items
-- listed from sensitive values (items hashes: the item indexes in 'h', their shown
-- values in h:<i> and hk:<i>); and its event, when it holds sensitive values of the
-- run that started it (event_shown). Its helpers are made inside it: a script that
-- ends a run without sensitive values does not make them.
local function hide_sensitive(run, fields, results, items, event)
  local shown_output = '"[sensitive]"' -- workflows.SensitiveShown, as JSON
  -- json_end is the position of the last character of the JSON value that starts at
  -- i of s; nil when s ends first.
  local function json_end(s, i)
    local c = string.sub(s, i, i)
    if c == '"' then
      local j = i + 1
      while true do
        local q = string.find(s, '["\\]', j)
        if not q then
          return nil
        elseif string.sub(s, q, q) == '"' then
          return q
        end
        j = q + 2 -- past the escaped character
      end
    elseif c == '{' or c == '[' then
      local depth, j = 0, i
      while true do
        local q = string.find(s, '[%[%]{}"]', j)
        if not q then
          return nil
        end
        local d = string.sub(s, q, q)
        if d == '"' then
          q = json_end(s, q)
          if not q then
            return nil
          end
        elseif d == '{' or d == '[' then
          depth = depth + 1
        else
          depth = depth - 1
          if depth == 0 then
            return q
          end
        end
        j = q + 1
      end
    end
    local q = string.find(s, '[,}%]]', i)
    if q then
      return q - 1
    end
    return nil
  end
  -- hidden is a record (as record writes it) with its output replaced by what is
  -- shown of it, and marked sensitive; nil when it has no output, or it is hidden
  -- already. Everything before the output is numbers and the status, so the first
  -- ',"output":' with no '{' or '[' before it is the record's own.
  local function hidden(data)
    local at = string.find(data, ',"output":', 1, true)
    if not at or string.find(string.sub(data, 2, at), '[%[{]') then
      return nil
    end
    local from = at + 10
    local to = json_end(data, from)
    if not to or string.sub(data, from, to) == shown_output then
      return nil
    end
    local rest = string.sub(data, to + 1)
    if string.sub(rest, -18) ~= ',"sensitive":true}' then
      rest = string.sub(rest, 1, -2) .. ',"sensitive":true}'
    end
    return string.sub(data, 1, from - 1) .. shown_output .. rest
  end
  for _, field in ipairs(fields) do
    if string.sub(field, 1, 2) == 'w:' then
      redis.call('HDEL', run, field)
    else
      local h = hidden(redis.call('HGET', run, field) or '')
      if h then
        redis.call('HSET', run, field, h)
      end
    end
  end
  for _, key in ipairs(results) do
    local all = redis.call('HGETALL', key)
    for i = 1, #all, 2 do
      local h = hidden(all[i + 1])
      if h then
        redis.call('HSET', key, all[i], h)
      end
    end
  end
  for _, key in ipairs(items) do
    for _, i in ipairs(split(redis.call('HGET', key, 'h'))) do
      local kv = redis.call('HMGET', key, 'h:' .. i, 'hk:' .. i)
      if kv[1] then
        redis.call('HSET', key, 'v:' .. i, kv[1])
      end
      if kv[2] then
        redis.call('HSET', key, 'k:' .. i, kv[2])
      end
      redis.call('HDEL', key, 'h:' .. i, 'hk:' .. i)
    end
    redis.call('HDEL', key, 'h')
  end
  if event then
    local shown = redis.call('HGET', run, 'event_shown')
    if shown then
      redis.call('HSET', run, 'event', shown)
      redis.call('HDEL', run, 'event_shown')
    end
  end
end
