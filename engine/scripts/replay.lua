-- Replays a failed run with what the planner decided: its dead letters are removed, the
-- records of what failed are cleared (steps, parallel blocks, the failed items of
-- for_each steps), the counts of units to settle set, and the jobs to run again queued
-- (or the run waits for a concurrency slot); the run is queued, no longer expiring.
-- The records of what succeeded stay; it does not run again. The run's timeout counts
-- again from the replay. A run cancelled because a run that called it timed out
-- ('with_parent', cancel.lua) is replayed as a failed one is, by that run's replay.
-- KEYS: 1 run hash, 2 dead letters, 3 ready:<wf>, 4 due index, 5 wake list, 6 open
--       count, 7 inflight:<wf>, 8 pending:<wf>, 9 limit:<wf>, 10 seq, then one hash per
--       job, then per for_each step of the workflow its items hash, results hash and
--       todo list
local K = {run = KEYS[1], dead = KEYS[2]}
local Q = {ready = KEYS[3], due = KEYS[4], wake = KEYS[5], open = KEYS[6], inflight = KEYS[7],
  pending = KEYS[8], limit = KEYS[9], seq = KEYS[10]}
-- ARGV: 1 shard prefix, 2 run id, 3 workflow, 4 N jobs, 5 D run fields to delete,
--       6 S run fields to set (the plan's counts and records; ver and started_ver
--       when the run moves to the version in use), 7 F for_each steps, then N (job
--       id, step, part) triples, D fields, S (field, value) pairs, then per for_each
--       step: C, C item indexes whose records are cleared, T, T item indexes to queue
--       as slots free
-- Returns 1 when queued; replies ERR_NOT_FOUND when there is no such run, and
-- ERR_NOT_FAILED when the run has not failed (nor was cancelled with its parent).
local prefix, runid, wf = ARGV[1], ARGV[2], ARGV[3]
local n_jobs, n_del, n_set, n_each = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local a = 8
local k_jobs, k_each = 11, 11 + n_jobs

local status = redis.call('HGET', K.run, 'status')
if not status then
  return fail(ERR_NOT_FOUND, 'no run ' .. runid)
end
if status ~= RUN_FAILED and not (status == RUN_CANCELLED and redis.call('HGET', K.run, 'with_parent')) then
  return fail(ERR_NOT_FAILED, 'the run is ' .. status)
end
local now, now_s = now_ms()
-- Every dead letter of the run goes: the one 'dead' names and those before it
-- (lib.lua's dead_letter lists them in 'dead_before').
local deads = split(redis.call('HGET', K.run, 'dead_before'))
local dead = redis.call('HGET', K.run, 'dead')
if dead then
  deads[#deads + 1] = dead
end
for _, id in ipairs(deads) do
  redis.call('ZREM', K.dead, id)
  redis.call('DEL', prefix .. 'job:' .. id)
end
-- The jobs a cancel left as tombstones (the on_failure steps of a run cancelled while
-- they ran, which stayed failed) go, so that those steps can run again.
for _, id in ipairs(split(redis.call('HGET', K.run, 'tombs'))) do
  redis.call('DEL', prefix .. 'job:' .. id)
end
redis.call('HDEL', K.run, 'dead', 'dead_before', 'finished', 'error', 'failed_step', 'tombs', 'with_parent')
redis.call('HSET', K.run, 'status', RUN_QUEUED)
redis.call('HINCRBY', K.run, 'replays', 1)
redis.call('HSET', K.run, 'replayed', now) -- a workflow timeout counts from here
redis.call('INCR', Q.open)
redis.call('PERSIST', K.run)

local jobs = {}
local job_args = a
a = a + 3 * n_jobs
for i = 0, n_del - 1 do
  redis.call('HDEL', K.run, ARGV[a + i])
end
a = a + n_del
for i = 0, n_set - 1 do
  local field, value = ARGV[a + 2 * i], ARGV[a + 2 * i + 1]
  if string.sub(field, 1, 2) == 's:' then
    -- A record the plan wrote (a for_each step's items listed again) is stamped with
    -- Redis's clock, as a commit stamps it: its step's time counts from here.
    record(K.run, field, now_s, 0, value, '')
  else
    redis.call('HSET', K.run, field, value)
  end
end
a = a + 2 * n_set
for s = 0, n_each - 1 do
  local items, results, todo = KEYS[k_each + 3 * s], KEYS[k_each + 3 * s + 1], KEYS[k_each + 3 * s + 2]
  redis.call('PERSIST', items)
  redis.call('PERSIST', results)
  redis.call('DEL', todo)
  local c = tonumber(ARGV[a])
  for i = 1, c do
    redis.call('HDEL', results, ARGV[a + i])
  end
  a = a + c + 1
  local t = tonumber(ARGV[a])
  if t > 0 then
    push(todo, ARGV, a + 1, a + t)
  end
  a = a + t + 1
end
for i = 0, n_jobs - 1 do
  local id = ARGV[job_args + 3 * i]
  local key = KEYS[k_jobs + i]
  redis.call('DEL', key)
  new_job(key, runid, wf, ARGV[job_args + 3 * i + 1], ARGV[job_args + 3 * i + 2])
  jobs[#jobs + 1] = id
end
queue_run(Q, prefix, wf, K.run, runid, jobs, now)
return 1
