-- Wakes a job that waits in its queue for something another shard holds (a workflow
-- step waiting for its child run): it is due now. A job that is not waiting in the
-- queue but exists (its worker is still on the way to parking it: the child ended
-- first) is marked woken, and parks due at once (retry.lua). A job that is gone is
-- left as it is, so a wake-up that comes twice, or late, does nothing.
-- KEYS: 1 ready:<wf>, 2 due index, 3 wake list, 4 the job's hash
local Q = {ready = KEYS[1], due = KEYS[2], wake = KEYS[3]}
local K = {job = KEYS[4]}
-- ARGV: 1 job id, 2 workflow
-- Returns 1 when woken, 0 when the job was not waiting in the queue.
local jobid, wf = ARGV[1], ARGV[2]
if not redis.call('ZSCORE', Q.ready, jobid) then
  if redis.call('EXISTS', K.job) == 1 then
    redis.call('HSET', K.job, 'woken', 1)
  end
  return 0
end
enqueue(Q, wf, jobid, now_ms())
return 1
