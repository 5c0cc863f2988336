-- Puts a workflow's concurrency limit in force as a process loads a version of it:
-- the limit it holds (or none), written as a start writes it, then the runs waiting in
-- line get the slots the new limit frees, at once rather than at the next start.
-- KEYS: 1 ready:<wf>, 2 due index, 3 wake list, 4 inflight:<wf>, 5 pending:<wf>,
--       6 limit:<wf>
local Q = {ready = KEYS[1], due = KEYS[2], wake = KEYS[3], inflight = KEYS[4], pending = KEYS[5],
  limit = KEYS[6]}
-- ARGV: 1 shard prefix, 2 workflow, 3 limit (0: none)
-- Returns 1 when the limit changed, 0 when it was in force already.
local prefix, wf, concurrency = ARGV[1], ARGV[2], tonumber(ARGV[3])
if limit(Q) == concurrency then
  return 0
end
if concurrency > 0 then
  redis.call('SET', Q.limit, concurrency)
else
  redis.call('DEL', Q.limit)
end
local _, now = now_ms()
admit(Q, prefix, wf, now)
return 1
