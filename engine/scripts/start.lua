-- Starts a run: the run's state, its place in the run history and its first step's job,
-- in one atomic write. (Workers trim the history indexes now and then: trimming here
-- would cost every start a range operation on them.) Starting a run that exists already changes nothing. A run with
-- no step to run (the workflow has none, or the run failed before its first step) ends
-- at once with ARGV[9] and ARGV[10]. ARGV[11] is the workflow's concurrency limit in
-- the starting process's version; it becomes the workflow's limit. A run of a limited
-- workflow queues its first step only when a slot is free; else it waits in line.
-- With a dedupe key (ARGV[12]), the first start of the key within ARGV[13] ms creates
-- a run; a start of the same key meanwhile creates nothing and returns the first run's id.
-- With a schedule key (ARGV[15]), the start is the run of the tick ARGV[16] (ms), and
-- claims it: the key holds the last tick started (ms), and the key with ':run' added
-- that tick and its run ('<ms> <run>'). A start of that tick again returns its run's
-- id; one of a tick at or before the last is
-- skipped (returns -1), unless the last is more than a minute past Redis's clock (a
-- process whose clock was wrong claimed it); a tick more than a minute past Redis's
-- clock is refused with an error reply starting HFCLOCK.
-- KEYS: 1 run hash, 2 first job hash
-- ARGV: 1 shard prefix, 2 run id, 3 workflow, 4 version, 5 event JSON, 6 first step
--       ('' for none), 7 first job id, 8 retention ms, 9 status when it ends at once,
--       10 its error, 11 concurrency limit (0: none), 12 dedupe key ('' for none),
--       13 dedupe window ms, 14 most unfinished runs the shard takes (0: no limit); past
--       it the start fails with an error reply starting HFBUSY, 15 schedule key ('' for
--       none), 16 tick ms, 17 how long the schedule key is kept (ms)
-- Returns 1 when the run was created, 0 when it existed, the first run's id for a
-- duplicate.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local prefix, runid, wf = ARGV[1], ARGV[2], ARGV[3]
local dedupe = ''
if ARGV[12] ~= '' then
  dedupe = prefix .. 'dedupe:' .. wf .. ':' .. ARGV[12]
  local first = redis.call('GET', dedupe)
  if first then
    return first
  end
end
local sched = ARGV[15]
if sched ~= '' then
  local tick, now = tonumber(ARGV[16]), now_ms()
  if tick > now + 60000 then
    return redis.error_reply('HFCLOCK the tick ' .. ARGV[16] .. ' is more than a minute past the clock of Redis (' .. now .. '): this clock is ahead')
  end
  local started = redis.call('GET', sched .. ':run')
  if started then
    local at, run = string.match(started, '^(%d+) (.+)$')
    if tonumber(at) == tick and run then
      return run
    end
  end
  local last = tonumber(redis.call('GET', sched) or '')
  if last and last >= tick and last <= now + 60000 then
    return -1
  end
end
local high = tonumber(ARGV[14])
if ARGV[6] ~= '' and high > 0 and tonumber(redis.call('GET', prefix .. 'open') or '0') >= high then
  return redis.error_reply('HFBUSY ' .. high .. ' runs are waiting or running')
end
if dedupe ~= '' then
  redis.call('SET', dedupe, runid, 'PX', ARGV[13])
end
if sched ~= '' then
  redis.call('SET', sched, ARGV[16], 'PX', ARGV[17])
  redis.call('SET', sched .. ':run', ARGV[16] .. ' ' .. runid, 'PX', ARGV[17])
end
local retention = tonumber(ARGV[8])
local now = now_ms()
redis.call('HSET', KEYS[1], 'id', runid, 'wf', wf, 'ver', ARGV[4], 'event', ARGV[5], 'created', now)
redis.call('ZADD', prefix .. 'runs', now, runid)
redis.call('ZADD', prefix .. 'runs:' .. wf, now, runid)
redis.call('SADD', prefix .. 'workflows', wf)
if ARGV[6] == '' then
  redis.call('HSET', KEYS[1], 'status', ARGV[9], 'error', ARGV[10], 'started', now, 'finished', now)
  redis.call('PEXPIRE', KEYS[1], retention)
  return 1
end
if tonumber(ARGV[11]) > 0 then
  redis.call('SET', prefix .. 'limit:' .. wf, ARGV[11])
else
  redis.call('DEL', prefix .. 'limit:' .. wf)
end
redis.call('HSET', KEYS[1], 'status', 'queued')
redis.call('INCR', prefix .. 'open')
redis.call('HSET', KEYS[2], 'run', runid, 'wf', wf, 'step', ARGV[6], 'attempt', 0)
queue_run(prefix, wf, runid, ARGV[7], now)
return 1
