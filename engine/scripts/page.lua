-- Keeps a page a paginated step read in its job's hash, with the page's request as the
-- run history records it and the page's response, so that the job goes on from the
-- page after it when it is leased again: handed back to the queue because its api's
-- limits held the next page back (defer.lua), or taken back from a worker that died.
-- Only the requests of the latest pages are kept, as many as a record keeps. lease.lua
-- gives the count kept; a retry, a dead letter and a cancel drop them (forget_pages), a
-- commit deletes the job.
-- KEYS: 1 job hash
local K = {job = KEYS[1]}
-- ARGV: 1 job id, 2 token, 3 the page's number, 4 the page (JSON), 5 its request
--       (JSON), 6 its response (JSON), 7 how many pages' requests to keep
local jobid, token, page, kept, request, response = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6]
local requests = tonumber(ARGV[7])
-- Returns 0; replies ERR_STALE when the job is no longer the caller's.
if redis.call('HGET', K.job, 'token') ~= token then
  return fail(ERR_STALE, 'the lease of ' .. jobid .. ' is no longer held')
end
redis.call('HSET', K.job, 'page:' .. page, kept, 'request:' .. page, request, 'response', response, 'pages', page)
if page > requests then
  redis.call('HDEL', K.job, 'request:' .. (page - requests))
end
return 0
