-- Cancels an unfinished run: it ends 'cancelled' (or stays failed, below), and nothing
-- of it runs again. Each of
-- its jobs that exists is left as a tombstone, without a token: one queued or waiting
-- (a retry, a delay) leaves the queue, one leased can no longer commit (its worker's
-- heartbeat finds it cancelled, and cancels the step), and none can be queued again. A
-- run waiting in line for a concurrency slot leaves the line; one holding a slot
-- frees it. Besides the jobs it is given, it makes the keys of the items of the run's
-- for_each steps, from the count in each step's items hash: a listing committed just
-- before this script is seen. The run lists its tombstones in 'tombs', for keep.lua to
-- drop with it.
-- KEYS: 1 run hash, 2 ready:<wf>, 3 due index, 4 wake list, 5 open count,
--       6 inflight:<wf>, 7 pending:<wf>, 8 limit:<wf>, 9 leases zset, 10 dead letters,
--       then one hash per job, then per for_each step its items hash, results hash
--       and todo list
local K = {run = KEYS[1], leases = KEYS[9], dead = KEYS[10]}
local Q = {ready = KEYS[2], due = KEYS[3], wake = KEYS[4], open = KEYS[5], inflight = KEYS[6],
  pending = KEYS[7], limit = KEYS[8]}
-- ARGV: 1 shard prefix, 2 run id, 3 workflow, 4 retention ms, 5 N jobs, 6 F for_each
--       steps, then N job ids, then F step names, then why, when not by hand:
--       'tree' when the cancel is its parent's (the whole tree is cancelled: a failed
--       run's dead letter goes too), 'timeout' when a run that called it timed out
--       (a failed run stays failed; one that ends cancelled is marked 'with_parent',
--       for that run's replay to run it again)
-- Returns {the status the run had, the status it ends with}: 'cancelled', or 'failed'
-- for a run that failed and runs its on_failure steps (below); replies ERR_NOT_FOUND
-- when there is no such run, and ERR_FINISHED when it has finished.
local prefix, runid, wf, retention = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local n_jobs, n_each = tonumber(ARGV[5]), tonumber(ARGV[6])

local status = redis.call('HGET', K.run, 'status')
if not status then
  return fail(ERR_NOT_FOUND, 'no run ' .. runid)
end
if status ~= RUN_QUEUED and status ~= RUN_RUNNING and status ~= RUN_WAITING then
  return fail(ERR_FINISHED, 'the run has ' .. status)
end
local now = now_ms()
local tombs = {}

local function tombstone(key, id)
  redis.call('ZREM', Q.ready, id)
  redis.call('ZREM', K.leases, id)
  redis.call('ZREM', Q.pending, id) -- a run in line with one first job waits as it
  if redis.call('EXISTS', key) == 1 then
    redis.call('HDEL', key, 'token', 'held')
    forget_pages(key)
    redis.call('HSET', key, 'cancelled', now)
    redis.call('PEXPIRE', key, retention)
    tombs[#tombs + 1] = id
  end
end

for i = 1, n_jobs do
  tombstone(KEYS[10 + i], ARGV[6 + i])
end
local more = {}
for s = 0, n_each - 1 do
  local step = ARGV[6 + n_jobs + 1 + s]
  local items = KEYS[10 + n_jobs + 1 + 3 * s]
  more[#more + 1] = items
  more[#more + 1] = KEYS[10 + n_jobs + 2 + 3 * s]
  more[#more + 1] = KEYS[10 + n_jobs + 3 + 3 * s]
  local n = tonumber(redis.call('HGET', items, 'n') or '0')
  for i = 0, n - 1 do
    local id = runid .. ':' .. step .. ':' .. i
    tombstone(prefix .. 'job:' .. id, id)
  end
end

-- A run that failed and runs its on_failure steps has its dead letter and its error:
-- cancelling it stops those steps, and it stays failed, with its dead letter to
-- replay, as if its on_failure steps had ended.
-- A child run cancelled with its parent is cancelled whatever it was doing: its dead
-- letter goes, as nothing of the tree is to be replayed. One cancelled because a run
-- that called it timed out is marked, for that run's replay to run it again.
local why = ARGV[6 + n_jobs + n_each + 1] or ''
local ends, err = RUN_CANCELLED, 'cancelled'
local dead = redis.call('HGET', K.run, 'dead')
if dead and why == 'tree' then
  redis.call('ZREM', K.dead, dead)
  redis.call('DEL', prefix .. 'job:' .. dead)
  redis.call('HDEL', K.run, 'dead')
elseif dead then
  ends, err = RUN_FAILED, redis.call('HGET', K.run, 'error') or 'failed'
elseif why == 'timeout' then
  err = 'cancelled: a run that called it timed out; replaying that run runs this one again'
  redis.call('HSET', K.run, 'with_parent', 1)
end
if #tombs > 0 then
  redis.call('HSET', K.run, 'tombs', table.concat(tombs, ' '))
end
redis.call('ZREM', Q.pending, runid)
redis.call('HDEL', K.run, 'first')
finish_run(Q, prefix, wf, K.run, runid, ends, err, now, retention, more)
return {status, ends}
