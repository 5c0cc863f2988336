-- Starts a run: the run's state, its place in the run history and its first jobs, in
-- one atomic write. (Workers trim the history indexes now and then: trimming here
-- would cost every start a range operation on them.) Starting a run that exists
-- already changes nothing. A run with nothing to run (the workflow has no steps, or
-- the run failed before its first step) ends at once with the given status and error.
-- The workflow's concurrency limit in the starting process's version becomes the
-- workflow's limit; a run of a limited workflow queues its first jobs only when a slot
-- is free, else it waits in line.
-- With a dedupe key, the first start of the key within the window creates a run; a
-- start of the same key meanwhile creates nothing and returns the first run's id. The
-- key holds '<run id> <end of the window, ms>'.
-- With a schedule key, the start is the run of a tick, and claims it: the key holds the
-- last tick started (ms), and the tick key that tick and its run ('<ms> <run>'). A
-- start of that tick again returns its run's id; one of a tick at or before the last
-- is refused with ERR_TICK_TAKEN, unless the last is more than a minute past Redis's
-- clock (a process whose clock was wrong claimed it); a tick more than a minute past
-- Redis's clock is refused with ERR_CLOCK.
-- With a lease time, a run with one first job that needs no concurrency slot has that
-- job leased to the starting process (which has a worker free for it) instead of
-- queued: it runs at once, where the run started, without a worker having to be woken
-- and lease it. The lease is the same as lease.lua's, but for its token: if the process
-- dies, the job is taken back when it expires. Its token is first_token's, not one from
-- the shard's counter (lib.lua says why that fences it as well).
-- KEYS: 1 run hash, 2 ready:<wf>, 3 due index, 4 wake list, 5 open count,
--       6 inflight:<wf>, 7 pending:<wf>, 8 limit:<wf>, 9 seq, 10 runs index,
--       11 runs:<wf> index, 12 workflows set, 13 leases zset, then one hash per first
--       job, then the dedupe key with a dedupe key, or the schedule
--       key and the schedule tick key with a schedule
-- The keys are locals, not the K and Q tables of the other scripts: a start is the
-- commonest call, and a table of named keys is a hash table made and filled at each
-- call (in the embedded Redis's Lua, a Go map: 4 - 5 us and 3 KB a start). Q is made
-- only for queue_run, on the way that queues the first jobs.
local run_key, runs_key, runs_of_key, workflows_key = KEYS[1], KEYS[10], KEYS[11], KEYS[12]
local open_key, inflight_key, pending_key, limit_key = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local leases_key = KEYS[13]
-- ARGV: 1 shard prefix, 2 run id, 3 workflow, 4 version, 5 event JSON, 6 concurrency
--       limit (0: none), 7 most unfinished runs the shard takes (0: no limit), 8 N first
--       jobs, 9 M run fields, 10 lease ms (0: queue the first jobs), then N (job id,
--       step, part) triples and M (field, value) pairs, then the sections a start
--       calls for, each a letter and its values (the commonest start has none):
--         x S E R   the run ends at once with status S and error E (it has nothing to
--                   run), kept R ms
--         d W       a dedupe key, for W ms; KEYS: the dedupe key
--         s T R     the start of a schedule's tick T (ms), its keys kept R ms; KEYS:
--                   the schedule key and the schedule tick key
-- Returns 1 when the run was created, {token, created ms} when it was created and its
-- first job leased, 0 when it existed, the first run's id for a duplicate.
local prefix, runid, wf, version, event = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local concurrency, high = tonumber(ARGV[6]), tonumber(ARGV[7])
local n_jobs, n_fields, lease = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local a_jobs, a_fields = 11, 11 + 3 * n_jobs
local k_jobs = 14
local end_status, end_error, retention = '', '', ''
local has_dedupe, window, has_sched, tick, tick_s, sched_ttl = false, '', false, 0, '', ''
local dedupe_key, sched_key, tick_key
local a = a_fields + 2 * n_fields
while a <= #ARGV do
  local tag = ARGV[a]
  if tag == 'x' then
    end_status, end_error, retention, a = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], a + 4
  elseif tag == 'd' then
    has_dedupe, window, a = true, ARGV[a + 1], a + 2
    dedupe_key = KEYS[k_jobs + n_jobs]
  elseif tag == 's' then
    has_sched, tick_s, tick, sched_ttl, a = true, ARGV[a + 1], tonumber(ARGV[a + 1]), ARGV[a + 2], a + 3
    sched_key, tick_key = KEYS[k_jobs + n_jobs], KEYS[k_jobs + n_jobs + 1]
  else
    return redis.error_reply('start: unknown section ' .. tostring(tag))
  end
end

if redis.call('EXISTS', run_key) == 1 then
  return 0
end
local now, now_s = now_ms()
if has_dedupe then
  -- The key holds the run's id and when its window ends: the embedded Redis counts a
  -- key's time to live down only now and then, so the window is read from the value.
  -- A value without its end (a poll's mark, a key written before) holds until it expires.
  local first = redis.call('GET', dedupe_key)
  if first then
    local id, ends = string.match(first, '^(.*) (%d+)$')
    if not id then
      return first
    elseif tonumber(ends) > now then
      return id
    end
  end
end
if has_sched then
  if tick > now + 60000 then
    return fail(ERR_CLOCK, 'the tick ' .. tick_s .. ' is more than a minute past the clock of Redis (' .. now .. '): this clock is ahead')
  end
  local started = redis.call('GET', tick_key)
  if started then
    local at, run = string.match(started, '^(%d+) (.+)$')
    if tonumber(at) == tick and run then
      return run
    end
  end
  local last = tonumber(redis.call('GET', sched_key) or '')
  if last and last >= tick and last <= now + 60000 then
    return fail(ERR_TICK_TAKEN, 'a later tick started already')
  end
end
-- A run with jobs to run counts as unfinished from here; past the most the shard
-- takes, it is taken back and refused.
if end_status == '' and redis.call('INCR', open_key) > high and high > 0 then
  redis.call('DECR', open_key)
  return fail(ERR_BUSY, high .. ' runs are waiting or running')
end
if has_dedupe then
  redis.call('SET', dedupe_key, runid .. ' ' .. digits(now + tonumber(window)), 'PX', window)
end
if has_sched then
  redis.call('SET', sched_key, tick_s, 'PX', sched_ttl)
  redis.call('SET', tick_key, tick_s .. ' ' .. runid, 'PX', sched_ttl)
end
redis.call('ZADD', runs_key, now_s, runid)
redis.call('ZADD', runs_of_key, now_s, runid)
redis.call('SADD', workflows_key, wf)
if end_status ~= '' then
  redis.call('HSET', run_key, 'id', runid, 'wf', wf, 'ver', version, 'event', event, 'created', now_s,
    'status', end_status, 'error', end_error, 'started', now_s, 'finished', now_s)
  redis.call('PEXPIRE', run_key, retention)
  return 1
end
-- The limit written before this start, 0 for none.
local stored = tonumber(redis.call('GET', limit_key) or '0')
-- Leased at once: there is one first job, no limit, and no run waiting for a slot.
-- With no limit written, none waits: a run that gets in line while there is none, and
-- the start that lifts one, admit every run waiting (queue_run, admit), so the line is
-- looked at only when a limit was written.
local leased = lease > 0 and n_jobs == 1 and concurrency == 0 and
  (stored == 0 or redis.call('EXISTS', pending_key) == 0)
if leased then
  redis.call('HSET', run_key, 'id', runid, 'wf', wf, 'ver', version, 'event', event, 'created', now_s,
    'status', RUN_RUNNING, 'started', now_s)
else
  redis.call('HSET', run_key, 'id', runid, 'wf', wf, 'ver', version, 'event', event, 'created', now_s,
    'status', RUN_QUEUED)
end
-- The limit is written only when it changes: most starts find it as it was.
if stored ~= concurrency then
  if concurrency > 0 then
    redis.call('SET', limit_key, concurrency)
  else
    redis.call('DEL', limit_key)
  end
end
for i = 0, n_fields - 1 do
  redis.call('HSET', run_key, ARGV[a_fields + 2 * i], ARGV[a_fields + 2 * i + 1])
end
if leased then
  local token = first_token(now_s)
  redis.call('HSET', KEYS[k_jobs], 'run', runid, 'wf', wf, 'step', ARGV[a_jobs + 1], 'part', ARGV[a_jobs + 2],
    'attempt', '1', 'token', token)
  redis.call('ZADD', leases_key, digits(now + lease), ARGV[a_jobs])
  redis.call('ZADD', inflight_key, now_s, runid)
  return {token, now}
end
-- The run is new, so are its jobs: no need to look for them first.
local jobs = {}
for i = 0, n_jobs - 1 do
  jobs[#jobs + 1] = ARGV[a_jobs + 3 * i]
  redis.call('HSET', KEYS[k_jobs + i], 'run', runid, 'wf', wf, 'step', ARGV[a_jobs + 3 * i + 1],
    'part', ARGV[a_jobs + 3 * i + 2], 'attempt', 0)
end
local Q = {ready = KEYS[2], due = KEYS[3], wake = KEYS[4], open = open_key, inflight = inflight_key,
  pending = pending_key, limit = limit_key, seq = KEYS[9]}
queue_run(Q, prefix, wf, run_key, runid, jobs, now_s, true, concurrency)
return 1
