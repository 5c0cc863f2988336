-- Commits the step that ends a straight run: a step alone in its run (outside parallel
-- blocks, without for_each) after which the run ends, with no job to dead-letter and no
-- for_each keys to expire. The run's last commit in the fewest commands; complete.lua
-- does every other end.
-- KEYS: 1 job hash, 2 run hash, 3 leases zset, 4 ready:<wf>, 5 due index, 6 wake list,
--       7 open count, 8 inflight:<wf>, 9 pending:<wf>, 10 limit:<wf>
local K = {job = KEYS[1], run = KEYS[2], leases = KEYS[3]}
local Q = {ready = KEYS[4], due = KEYS[5], wake = KEYS[6], open = KEYS[7], inflight = KEYS[8],
  pending = KEYS[9], limit = KEYS[10]}
-- ARGV: 1 shard prefix, 2 job id, 3 token, 4 workflow, 5 run id, 6 duration ms, 7 field
--       of the step's record, 8 the record, 9 the run's status, 10 its error,
--       11 retention ms; for a run with raw sensitive values to forget if it
--       succeeds (lib.lua's hide_sensitive), 12 '1' when its event has a shown form,
--       then the run fields to hide
local prefix, jobid, token, wf, runid = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local duration, rec_field, rec = ARGV[6], ARGV[7], ARGV[8]
local status, err, retention = ARGV[9], ARGV[10], ARGV[11]
local hiding, show_event = #ARGV > 11, ARGV[12] == '1' -- the fields to hide: ARGV[13] on
-- Returns 0. Replies ERR_STALE when the lease is no longer held.

if redis.call('HGET', K.job, 'token') ~= token then
  return fail(ERR_STALE, 'the lease of ' .. jobid .. ' is no longer held')
end
local _, now_s = now_ms()
redis.call('ZREM', K.leases, jobid)
-- The step's record and the run's end in one write (record's and finish_run's).
redis.call('HSET', K.run, rec_field, recorded(now_s, duration, rec, ''), 'status', status, 'finished', now_s, 'error', err)
redis.call('DEL', K.job)
if hiding and status == RUN_SUCCEEDED then
  hide_sensitive(K.run, {unpack(ARGV, 13)}, {}, {}, show_event)
end
end_run(Q, prefix, wf, K.run, runid, now_s, retention, {})
return 0
