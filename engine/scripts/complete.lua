-- Commits a unit of a run (a step, an item of a for_each step, or a join) with what the
-- planner decided, in one atomic write: the unit's record, the items a for_each step
-- lists, the counts of units left to settle, the next jobs, and the run's end. A caller
-- whose lease token is no longer the job's is refused and writes nothing.
-- KEYS: 1 job hash, 2 run hash, 3 leases zset, 4 token counter, 5 ready:<wf>, 6 due
--       index, 7 wake list, 8 dead letters, 9 open count, 10 inflight:<wf>,
--       11 pending:<wf>, 12 limit:<wf>, 13 items hash of the for_each step concerned
--       (item keys and values), 14 its results hash (item records), 15 its todo list
--       (items waiting for a slot), 16 the join job hash queued when the join count
--       reaches 0, then one hash per next job, then the keys of the run's for_each
--       steps, which expire with it
local K = {job = KEYS[1], run = KEYS[2], leases = KEYS[3], tokens = KEYS[4], items = KEYS[13],
  results = KEYS[14], todo = KEYS[15], joinjob = KEYS[16]}
local Q = {ready = KEYS[5], due = KEYS[6], wake = KEYS[7], dead = KEYS[8], open = KEYS[9],
  inflight = KEYS[10], pending = KEYS[11], limit = KEYS[12]}
-- ARGV: 1 shard prefix, 2 job id, 3 token, 4 workflow, 5 run id, 6 lease ms, 7 retention
--       ms, 8 duration ms, 9 ms before what this queues is due (a delay), 10 field of
--       the unit's record ('' for none), 11 the record, 12 '1' when the record goes
--       into the results hash (an item) rather than the run hash, 13 join count field
--       in the run hash ('' for none), 14 join job id, 15 join step, 16 what to do with
--       the todo list: '' nothing, 'next' start its first item, 'drop' drop its items
--       (they count as settled), 17 the for_each step of the todo list, 18 run status
--       when the run ends here ('' while it goes on), 19 run error, 20 '1' when the job
--       goes to the dead letters, 21 which job is leased to the caller: '' none,
--       'first' the first next job, 'todo' the item taken from the todo list,
--       22 N next jobs, 23 M run fields, 24 P items the step lists (-1: it lists none),
--       25 T items waiting,
--       then N (job id, step, part) triples, M (field, value) pairs (s:NAME fields are
--       records), P (key, value) pairs of JSON (key '' for a list), T item indexes
local prefix, jobid, token, wf, runid = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local lease, retention, duration, wait = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8], tonumber(ARGV[9])
local rec_field, rec, rec_in_results = ARGV[10], ARGV[11], ARGV[12] == '1'
local join_field, join_job, join_step = ARGV[13], ARGV[14], ARGV[15]
local todo_op, todo_step = ARGV[16], ARGV[17]
local run_status, run_error, dead = ARGV[18], ARGV[19], ARGV[20] == '1'
local chain = ARGV[21]
local n_next, n_fields, n_items, n_todo = tonumber(ARGV[22]), tonumber(ARGV[23]), tonumber(ARGV[24]), tonumber(ARGV[25])
local a_next = 26
local a_fields = a_next + 3 * n_next
local a_items = a_fields + 2 * n_fields
local a_todo = a_items + 2 * math.max(n_items, 0)
local k_next = 17
local k_more = k_next + n_next

if redis.call('HGET', K.job, 'token') ~= token then
  return fail(ERR_STALE, 'the lease of ' .. jobid .. ' is no longer held')
end
local now = now_ms()
local at = now + wait
local chained = {0, '', '', '', false, false}

-- lease_to_caller hands a new job to the committing worker, skipping the queue.
local function lease_to_caller(key, id)
  local t = redis.call('INCR', K.tokens)
  redis.call('HSET', key, 'attempt', 1, 'token', t)
  redis.call('ZADD', K.leases, now + lease, id)
  return t
end

redis.call('ZREM', K.leases, jobid)
if rec_field ~= '' then
  local hash = K.run
  if rec_in_results then
    hash = K.results
  end
  record(hash, rec_field, now, duration, rec, '')
end
local status = redis.call('HGET', K.run, 'status')
if status == RUN_SUCCEEDED or status == RUN_FAILED then
  -- The run ended while this unit ran (a unit beside it could not go on and failed
  -- it): the unit's record is kept, and nothing follows it.
  redis.call('DEL', K.job)
  return chained
end
for i = 0, n_fields - 1 do
  local field, value = ARGV[a_fields + 2 * i], ARGV[a_fields + 2 * i + 1]
  if string.sub(field, 1, 2) == 's:' then
    -- A record the plan wrote (a for_each step, a parallel block) carries its own
    -- duration after the one put in front, and the later one is what decoding keeps.
    record(K.run, field, now, 0, value, '')
  else
    redis.call('HSET', K.run, field, value)
  end
end
if n_items >= 0 then
  redis.call('HSET', K.items, 'n', n_items)
end
for i = 0, n_items - 1 do
  local key, value = ARGV[a_items + 2 * i], ARGV[a_items + 2 * i + 1]
  redis.call('HSET', K.items, 'v:' .. i, value)
  if key ~= '' then
    redis.call('HSET', K.items, 'k:' .. i, key)
  end
end
if n_todo > 0 then
  push(K.todo, ARGV, a_todo, a_todo + n_todo - 1)
end

-- An item settled: the next waiting item takes its slot, or, when it failed the step,
-- the waiting items are dropped and count as settled.
local settled = 1
if todo_op == 'next' then
  local idx = redis.call('LPOP', K.todo)
  if idx then
    local id = runid .. ':' .. todo_step .. ':' .. idx
    local key = prefix .. 'job:' .. id
    if new_job(key, runid, wf, todo_step, idx) then
      if chain == 'todo' and wait == 0 then
        local kv = redis.call('HMGET', K.items, 'k:' .. idx, 'v:' .. idx)
        chained = {lease_to_caller(key, id), id, todo_step, idx, kv[1], kv[2]}
      else
        enqueue(Q, wf, id, at)
      end
    end
  end
elseif todo_op == 'drop' then
  settled = settled + redis.call('LLEN', K.todo)
  redis.call('DEL', K.todo)
end

if join_field ~= '' and redis.call('HINCRBY', K.run, join_field, -settled) <= 0 then
  if new_job(K.joinjob, runid, wf, join_step, 'join') then
    enqueue(Q, wf, join_job, at)
  end
end

for i = 0, n_next - 1 do
  local id, step, part = ARGV[a_next + 3 * i], ARGV[a_next + 3 * i + 1], ARGV[a_next + 3 * i + 2]
  local key = KEYS[k_next + i]
  if new_job(key, runid, wf, step, part) then
    if i == 0 and chain == 'first' and wait == 0 then
      chained = {lease_to_caller(key, id), id, step, part, false, false}
    else
      enqueue(Q, wf, id, at)
    end
  end
end

if run_status ~= '' then
  if dead then
    dead_letter(Q, K.job, jobid, K.run, run_error, now, retention)
  else
    redis.call('DEL', K.job)
  end
  local more = {}
  for i = k_more, #KEYS do
    more[#more + 1] = KEYS[i]
  end
  finish_run(Q, prefix, wf, K.run, runid, run_status, run_error, now, retention, more)
else
  redis.call('DEL', K.job)
end
return chained
