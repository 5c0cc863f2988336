-- Drops the runs created before ARGV[2] (ms) from a shard's history indexes: the one
-- of every run and each workflow's. Their hashes have expired already.
-- KEYS: 1 workflows set of the shard
-- ARGV: 1 shard prefix, 2 oldest creation time kept (ms)
-- Returns how many entries were dropped.
local prefix, before = ARGV[1], '(' .. ARGV[2]
local n = redis.call('ZREMRANGEBYSCORE', prefix .. 'runs', '-inf', before)
for _, wf in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local index = prefix .. 'runs:' .. wf
  n = n + redis.call('ZREMRANGEBYSCORE', index, '-inf', before)
  if redis.call('EXISTS', index) == 0 then
    redis.call('SREM', KEYS[1], wf)
  end
end
return n
