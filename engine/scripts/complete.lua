-- Commits a unit of a run (a step, an item of a for_each step, or a join) with what the
-- planner decided, in one atomic write: the unit's record, the items a for_each step
-- lists, the counts of units left to settle, the next jobs, and the run's end. A caller
-- whose lease token is no longer the job's is refused and writes nothing.
-- KEYS: 1 job hash, 2 run hash, 3 leases zset, 4 ready:<wf>, 5 due index, 6 wake list,
--       then one hash per next job, then the keys that the sections of ARGV call for,
--       in their order
-- ARGV: 1 shard prefix, 2 job id, 3 token, 4 workflow, 5 run id, 6 lease ms,
--       7 duration ms, 8 field of the unit's record ('' for none), 9 the record, 10 which
--       job is leased to the caller: '' none, 'first' the first next job, 'todo' the item
--       taken from the todo list, 11 N next jobs, then N (job id, step, part) triples,
--       then sections, each a letter and its values. The commonest commit, a step that
--       goes on to the next, has none: it pays for no more than it uses.
--         w MS          what this queues is due MS later (a delay)
--         e STEP        the for_each step concerned; KEYS: its items hash (keys and
--                       values), its results hash (item records), its todo list (items
--                       waiting for a slot)
--         r             the unit's record goes into the results hash, not the run's
--         i P K V ...   the items the step lists: P (key, value) pairs of JSON, the key
--                       '' for a list's index
--         m             the items listed are a map's, even none: the items hash's
--                       map field says so, 2 (builds before "engine: an item's map
--                       key is percent-encoded in its child run's id and
--                       Idempotency-Key" wrote 1, and builds before the field none)
--         v M I K V ... M items listed from sensitive values: index I, the shown forms
--                       of its key K and value V ('' for one that holds none), kept
--                       in the items hash (h:<i>, hk:<i>, the indexes in h) until the
--                       run succeeds (hide_sensitive)
--         q T I ...     T item indexes that wait for a slot, in order
--         n / d         an item settled: the next waiting item starts (n), or, as it
--                       failed the step, the waiting ones drop and count as settled (d)
--         j F S ID      a join count F in the run hash goes down; at 0 the join of S,
--                       job ID, is queued; KEYS: the join job's hash
--         f M F V ...   M run fields to set; s:NAME fields are records
--         a             the unit is alone in its run (a step outside any parallel
--                       block and without for_each): nothing else of the run is in
--                       flight that could have ended it, so that is not looked for
--         h E F R       the run failed here with error E at step F, and goes on with its
--                       on_failure steps: the job goes to the dead letters (retention
--                       R ms); KEYS: dead letters
--         s F R I E ... the run's raw sensitive values, forgotten if it ends here
--                       succeeded (lib.lua's hide_sensitive): F run fields, then R
--                       results hashes and I items hashes in KEYS, E '1' when its
--                       event has a shown form; the F fields follow E
--         x S E D R     the run ends here with status S and error E; D '1' sends the job
--                       to the dead letters; R the retention ms; KEYS: dead letters,
--                       open count, inflight:<wf>, pending:<wf>, limit:<wf>, then the
--                       keys that expire with the run (all the rest: x comes last)
local prefix, jobid, token, wf, runid = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local lease, duration, rec_field, rec = tonumber(ARGV[6]), ARGV[7], ARGV[8], ARGV[9]
local chain, n_next = ARGV[10], tonumber(ARGV[11])
local a_next, k_next = 12, 7
-- Its own keys are locals, not a K table as in the other scripts: a commit is the
-- commonest call with a start (start.lua says why).
local job_key, run_key, leases_key = KEYS[1], KEYS[2], KEYS[3]
local items_key, results_key, todo_key, joinjob_key
local Q = {ready = KEYS[4], due = KEYS[5], wake = KEYS[6]}
local wait, each, rec_in_results, todo_op = 0, '', false, ''
local a_items, n_items, a_todo, n_todo, a_fields, n_fields = 0, -1, 0, 0, 0, 0
local a_shown, n_shown = 0, 0
local join_field, join_step, join_job = '', '', ''
local run_status, run_error, dead, retention, more = '', '', false, 0, {}
local alone, handle, failed_step, map_items = false, false, '', false
local hide = nil -- {fields, results, items, event}: what a success forgets
local a, k = a_next + 3 * n_next, k_next + n_next
while a <= #ARGV do
  local tag = ARGV[a]
  if tag == 'w' then
    wait, a = tonumber(ARGV[a + 1]), a + 2
  elseif tag == 'e' then
    each, a = ARGV[a + 1], a + 2
    items_key, results_key, todo_key, k = KEYS[k], KEYS[k + 1], KEYS[k + 2], k + 3
  elseif tag == 'r' then
    rec_in_results, a = true, a + 1
  elseif tag == 'a' then
    alone, a = true, a + 1
  elseif tag == 'i' then
    n_items, a_items = tonumber(ARGV[a + 1]), a + 2
    a = a_items + 2 * n_items
  elseif tag == 'm' then
    map_items, a = true, a + 1
  elseif tag == 'v' then
    n_shown, a_shown = tonumber(ARGV[a + 1]), a + 2
    a = a_shown + 3 * n_shown
  elseif tag == 'q' then
    n_todo, a_todo = tonumber(ARGV[a + 1]), a + 2
    a = a_todo + n_todo
  elseif tag == 'n' or tag == 'd' then
    todo_op, a = tag, a + 1
  elseif tag == 'j' then
    join_field, join_step, join_job, a = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], a + 4
    joinjob_key, k = KEYS[k], k + 1
  elseif tag == 'f' then
    n_fields, a_fields = tonumber(ARGV[a + 1]), a + 2
    a = a_fields + 2 * n_fields
  elseif tag == 'h' then
    handle, run_error, failed_step, retention = true, ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
    a = a + 4
    Q.dead, k = KEYS[k], k + 1
  elseif tag == 's' then
    local nf, nr, ni = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
    hide = {fields = {}, results = {}, items = {}, event = ARGV[a + 4] == '1'}
    for i = 1, nf do
      hide.fields[i] = ARGV[a + 4 + i]
    end
    a = a + 5 + nf
    for i = 1, nr do
      hide.results[i] = KEYS[k + i - 1]
    end
    k = k + nr
    for i = 1, ni do
      hide.items[i] = KEYS[k + i - 1]
    end
    k = k + ni
  elseif tag == 'x' then
    run_status, run_error, dead, retention = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3] == '1', ARGV[a + 4]
    a = a + 5
    Q.dead, Q.open, Q.inflight, Q.pending, Q.limit = KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4]
    for i = k + 5, #KEYS do
      more[#more + 1] = KEYS[i]
    end
    k = #KEYS + 1
  else
    return redis.error_reply('complete: unknown section ' .. tostring(tag))
  end
end

if redis.call('HGET', job_key, 'token') ~= token then
  return fail(ERR_STALE, 'the lease of ' .. jobid .. ' is no longer held')
end
local now, now_s = now_ms()
local at = wait == 0 and now_s or digits(now + wait) -- when what this queues is due
-- 0, or {token, job id, step, part, item key, item value, the items hash's map field}
-- when a job is leased to the caller
local chained = 0

-- lease_new makes a job and leases it to the committing worker, skipping the queue,
-- with the committing job's token (lib.lua's lease tokens); false when the job exists
-- already (new_job's rule).
local function lease_new(key, id, step, part)
  if redis.call('EXISTS', key) == 1 then
    return false
  end
  redis.call('HSET', key, 'run', runid, 'wf', wf, 'step', step, 'part', part, 'attempt', '1', 'token', token)
  redis.call('ZADD', leases_key, digits(now + lease), id)
  return true
end

redis.call('ZREM', leases_key, jobid)
-- A unit with others beside it (an item, a step of a parallel block, a for_each
-- step's listing) may find its run ended while it ran (one of the others could not go
-- on and failed it): its record is kept, and nothing follows it. One that finds its
-- run gone (dropped past the finished runs kept, keep.lua) writes nothing: the run's
-- hash is not made anew.
local ended = false
if not alone then
  local status = redis.call('HGET', run_key, 'status')
  if not status then
    redis.call('DEL', job_key)
    return chained
  end
  ended = status == RUN_SUCCEEDED or status == RUN_FAILED or status == RUN_CANCELLED
end
if rec_field ~= '' then
  local hash = run_key
  if rec_in_results then
    hash = results_key
  end
  record(hash, rec_field, now_s, duration, rec, '')
end
if ended then
  redis.call('DEL', job_key)
  return chained
end
for i = 0, n_fields - 1 do
  local field, value = ARGV[a_fields + 2 * i], ARGV[a_fields + 2 * i + 1]
  if string.sub(field, 1, 2) == 's:' then
    -- A record the plan wrote (a for_each step, a parallel block) carries its own
    -- duration after the one put in front, and the later one is what decoding keeps.
    record(run_key, field, now_s, 0, value, '')
  else
    redis.call('HSET', run_key, field, value)
  end
end
if n_items >= 0 then
  redis.call('HSET', items_key, 'n', n_items)
  if map_items then
    redis.call('HSET', items_key, 'map', 2)
  end
end
for i = 0, n_items - 1 do
  local key, value = ARGV[a_items + 2 * i], ARGV[a_items + 2 * i + 1]
  redis.call('HSET', items_key, 'v:' .. i, value)
  if key ~= '' then
    redis.call('HSET', items_key, 'k:' .. i, key)
  end
end
if n_shown > 0 then
  local shown = {}
  for i = 0, n_shown - 1 do
    local idx, key, value = ARGV[a_shown + 3 * i], ARGV[a_shown + 3 * i + 1], ARGV[a_shown + 3 * i + 2]
    if value ~= '' then
      redis.call('HSET', items_key, 'h:' .. idx, value)
    end
    if key ~= '' then
      redis.call('HSET', items_key, 'hk:' .. idx, key)
    end
    shown[#shown + 1] = idx
  end
  redis.call('HSET', items_key, 'h', table.concat(shown, ' '))
end
if n_todo > 0 then
  push(todo_key, ARGV, a_todo, a_todo + n_todo - 1)
end

-- An item settled: the next waiting item takes its slot, or, when it failed the step,
-- the waiting items are dropped and count as settled.
local settled = 1
if todo_op == 'n' then
  local idx = redis.call('LPOP', todo_key)
  if idx then
    local id = runid .. ':' .. each .. ':' .. idx
    local key = prefix .. 'job:' .. id
    if chain == 'todo' and wait == 0 then
      if lease_new(key, id, each, idx) then
        local kv = redis.call('HMGET', items_key, 'k:' .. idx, 'v:' .. idx, 'map')
        chained = {token, id, each, idx, kv[1], kv[2], kv[3]}
      end
    elseif new_job(key, runid, wf, each, idx) then
      enqueue(Q, wf, id, at)
    end
  end
elseif todo_op == 'd' then
  settled = settled + redis.call('LLEN', todo_key)
  redis.call('DEL', todo_key)
end

if join_field ~= '' then
  local left = redis.call('HINCRBY', run_key, join_field, -settled)
  if left <= 0 then
    if new_job(joinjob_key, runid, wf, join_step, 'join') then
      enqueue(Q, wf, join_job, at)
    end
  elseif tonumber(redis.call('HGET', run_key, 'p:' .. string.sub(join_field, 3)) or '0') >= left and
      redis.call('HGET', run_key, 'status') == RUN_RUNNING then
    -- Every step of the block still to settle is a wait parked there (park.lua).
    redis.call('HSET', run_key, 'status', RUN_WAITING)
  end
end

for i = 0, n_next - 1 do
  local id, step, part = ARGV[a_next + 3 * i], ARGV[a_next + 3 * i + 1], ARGV[a_next + 3 * i + 2]
  local key = KEYS[k_next + i]
  if i == 0 and chain == 'first' and wait == 0 then
    if lease_new(key, id, step, part) then
      chained = {token, id, step, part, false, false, false}
    end
  elseif new_job(key, runid, wf, step, part) then
    enqueue(Q, wf, id, at)
  end
end

if run_status ~= '' then
  if dead then
    dead_letter(Q, job_key, jobid, run_key, run_error, now, retention)
  else
    redis.call('DEL', job_key)
  end
  if hide and run_status == RUN_SUCCEEDED then
    hide_sensitive(run_key, hide.fields, hide.results, hide.items, hide.event)
  end
  finish_run(Q, prefix, wf, run_key, runid, run_status, run_error, now_s, retention, more)
elseif handle then
  dead_letter(Q, job_key, jobid, run_key, run_error, now, retention)
  redis.call('HSET', run_key, 'error', run_error, 'failed_step', failed_step)
  if redis.call('HGET', run_key, 'status') == RUN_WAITING then
    redis.call('HSET', run_key, 'status', RUN_RUNNING) -- its timeout passed at a wait: the handlers run
  end
else
  redis.call('DEL', job_key)
end
return chained
