-- Drops what is past the retention from a shard's indexes: the runs created before
-- ARGV[2] (ms) from the history indexes (the one of every run and each workflow's), and
-- the dead letters kept since before then. Their hashes have expired already.
-- KEYS: 1 workflows set of the shard, 2 runs index, 3 dead letters
-- ARGV: 1 shard prefix, 2 oldest time kept (ms)
-- Returns how many entries were dropped.
local K = {workflows = KEYS[1], runs = KEYS[2], dead = KEYS[3]}
local prefix, before = ARGV[1], '(' .. ARGV[2]
local n = redis.call('ZREMRANGEBYSCORE', K.runs, '-inf', before)
n = n + redis.call('ZREMRANGEBYSCORE', K.dead, '-inf', before)
for _, wf in ipairs(redis.call('SMEMBERS', K.workflows)) do
  local index = prefix .. 'runs:' .. wf -- as the workflows set names them
  n = n + redis.call('ZREMRANGEBYSCORE', index, '-inf', before)
  if redis.call('EXISTS', index) == 0 then
    redis.call('SREM', K.workflows, wf)
  end
end
return n
