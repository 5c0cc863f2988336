-- Keeps a page a paginated step read in its job's hash, with the page's response, so
-- that the job goes on from the page after it when it is leased again: handed back to
-- the queue because its api's limits held the next page back (defer.lua), or taken
-- back from a worker that died. lease.lua gives the count kept; a retry, a dead letter
-- and a cancel drop them (forget_pages), a commit deletes the job.
-- KEYS: 1 job hash
local K = {job = KEYS[1]}
-- ARGV: 1 job id, 2 token, 3 the page's number, 4 the page (JSON), 5 its response (JSON)
local jobid, token, page, kept, response = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
-- Returns 0; replies ERR_STALE when the job is no longer the caller's.
if redis.call('HGET', K.job, 'token') ~= token then
  return fail(ERR_STALE, 'the lease of ' .. jobid .. ' is no longer held')
end
redis.call('HSET', K.job, 'page:' .. page, kept, 'response', response, 'pages', page)
return 0
