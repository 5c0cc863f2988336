-- Drops a shard's oldest finished runs past the number it keeps, with every key that
-- is theirs: the run hash, its entries in the history indexes (the one of every run and
-- its workflow's), its dead letters ('dead', and those in 'dead_before'), the keys of its for_each steps (items, results and
-- todo, named by the steps its hash has a record or count of), and the jobs its cancel
-- left as tombstones (cancel.lua lists them in 'tombs'). Queued, running and waiting
-- runs are never dropped, and do not count. Nor is a run dropped that finished less
-- than a grace ago (a caller waiting for it reads its end; the parent step of a child
-- run reads it, and would start it again if it found none), or less than a lease ago
-- when it ended with units counted in flight (a count above 0: they commit into it
-- when they settle). Past that lease it goes all the same: a run ended by a unit that
-- could not be resumed, in a parallel block or a for_each step, keeps its counts above
-- 0 for good, as what settles in an ended run counts nothing down. A unit of it still
-- running then writes nothing when it settles (complete.lua, retry.lua and park.lua
-- find the run gone), and lease.lua deletes one still queued when it comes due. A run
-- whose hash has expired (its retention ran out before the cap came to it: a child run,
-- kept a grace longer, under a short --retention) leaves its entries in the indexes: they
-- go, from every workflow's index, as its workflow is no longer known.
-- Runs are looked at oldest first from a rank, at most a batch of them, so one call's
-- work is bounded; under the cap a call costs a ZCARD and a GET.
-- KEYS: 1 runs index, 2 open count, 3 dead letters, 4 workflows set of the shard
local K = {runs = KEYS[1], open = KEYS[2], dead = KEYS[3], workflows = KEYS[4]}
-- ARGV: 1 shard prefix, 2 finished runs kept, 3 rank to look from, 4 most runs to look
--       at, 5 ms a run is kept after it finished, 6 the same for a child run (its id
--       has a ':'), 7 the lease: the same for a cancelled run with tombstones (a step
--       still running learns of the cancel from its tombstone, at its next heartbeat),
--       and for a run that ended with units counted in flight
local prefix, keep, from, most = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local grace, child_grace, lease = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
-- Returns {runs dropped, the rank to look from next, finished runs still past the cap,
-- 1 when the index's end was reached (else 0)}.

local over = redis.call('ZCARD', K.runs) - math.max(tonumber(redis.call('GET', K.open) or '0'), 0) - keep
if over <= 0 then
  return {0, 0, 0, 0}
end
local now = now_ms()

-- keys_of adds the keys of a finished run that may be dropped to keys, and reports
-- whether it may: false while it is in its grace, or within a lease of its end with
-- units counted in flight.
local function keys_of(keys, runid, run, status, finished, dead, tombs, dead_before)
  local wait = grace
  if string.find(runid, ':', 1, true) then
    wait = child_grace
  end
  if tombs then -- cancelled, or failed and cancelled while its on_failure steps ran
    wait = math.max(wait, lease)
  end
  local ago = now - tonumber(finished or '0')
  if ago < wait then
    return false
  end
  local names, counts, seen = {}, {}, {}
  for _, field in ipairs(redis.call('HKEYS', run)) do
    local kind, name = string.sub(field, 1, 2), string.sub(field, 3)
    if (kind == 's:' or kind == 'j:') and not seen[name] then
      seen[name] = true
      names[#names + 1] = name
    end
    if kind == 'j:' then
      counts[#counts + 1] = field
    end
  end
  -- Units counted in flight commit into the run as they settle: it waits a lease for
  -- them, unless it was cancelled (a cancel took every job of the run from its
  -- workers: none of them can commit). Counts still above 0 past that are stuck.
  if #counts > 0 and status ~= RUN_CANCELLED and ago < lease then
    for _, n in ipairs(redis.call('HMGET', run, unpack(counts))) do
      if tonumber(n or '0') > 0 then
        return false
      end
    end
  end
  keys[#keys + 1] = run
  for _, name in ipairs(names) do
    local tail = runid .. ':' .. name
    keys[#keys + 1] = prefix .. 'items:' .. tail
    keys[#keys + 1] = prefix .. 'results:' .. tail
    keys[#keys + 1] = prefix .. 'todo:' .. tail
  end
  local deads = split(dead_before)
  if dead then
    deads[#deads + 1] = dead
  end
  for _, id in ipairs(deads) do
    redis.call('ZREM', K.dead, id)
    keys[#keys + 1] = prefix .. 'job:' .. id
  end
  for _, id in ipairs(split(tombs)) do
    keys[#keys + 1] = prefix .. 'job:' .. id
  end
  return true
end

-- each calls fn with the values in chunks, as Lua unpacks only so many at once.
local function each(values, fn)
  for i = 1, #values, 1000 do
    fn(unpack(values, i, math.min(i + 999, #values)))
  end
end

local ids = redis.call('ZRANGE', K.runs, from, from + most - 1)
local keys, gone, of_wf, expired = {}, {}, {}, {}
local looked, kept = 0, 0
for _, runid in ipairs(ids) do
  if #gone >= over then
    break
  end
  looked = looked + 1
  local run = prefix .. 'run:' .. runid
  local f = redis.call('HMGET', run, 'status', 'wf', 'finished', 'dead', 'tombs', 'dead_before')
  local status, wf = f[1], f[2]
  local drop = not status -- expired
  if status == RUN_SUCCEEDED or status == RUN_FAILED or status == RUN_CANCELLED then
    drop = keys_of(keys, runid, run, status, f[3], f[4], f[5], f[6])
  end
  if drop then
    gone[#gone + 1] = runid
    if wf then
      of_wf[wf] = of_wf[wf] or {}
      table.insert(of_wf[wf], runid)
    elseif not status then
      expired[#expired + 1] = runid
    end
  else
    kept = kept + 1
  end
end
each(keys, function(...) redis.call('DEL', ...) end)
each(gone, function(...) redis.call('ZREM', K.runs, ...) end)
for wf, list in pairs(of_wf) do
  local index = prefix .. 'runs:' .. wf
  each(list, function(...) redis.call('ZREM', index, ...) end)
end
if #expired > 0 then
  for _, wf in ipairs(redis.call('SMEMBERS', K.workflows)) do
    local index = prefix .. 'runs:' .. wf -- as the workflows set names them
    each(expired, function(...) redis.call('ZREM', index, ...) end)
  end
end
local ended = 0
if looked == #ids and #ids < most then
  ended = 1
end
return {#gone, from + kept, over - #gone, ended}
