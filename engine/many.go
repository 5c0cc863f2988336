package engine

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The calls of one script that a pipelined batch holds (starts, commits, retries and
// parks, or wake-ups of a child run's parent) go to Redis as one call of the script's
// batch form: its text made a function of its keys and arguments, called once for
// each call, in one script. Redis charges every script call
// for things that do not depend on what it does: the EVALSHA itself (about 14,000
// instructions with one key and one argument), the functions of lib.lua it carries,
// made anew at every call (about 460 instructions each, a dozen or more a script),
// Redis's clock (TIME, and cutting its reply to milliseconds: about 13,000), and the
// MULTI and EXEC around its writes in the AOF. A batch pays them once. Its calls run
// one after another, atomically together, as they would have in the pipeline: nothing
// else runs between them either way, as they were in flight at once.
//
// Each call keeps its own reply and its own error: an error reply, or a Lua error
// (pcall), ends its call and not the others. As for a call alone, what a call wrote
// before an error stays written. The calls share one reading of the clock, taken at the
// first that asks for it.
//
// The batch's reply holds each call's as data, never as an error reply inside a list:
// go-redis reads some error replies (OOM, READONLY, NOREPLICAS, any that says
// "unauthenticated"...) as the error of the whole reply, leaving the rest of it unread
// on the connection, where the next command of the pipeline would read it as its own.
// So go-redis does not give a call's error a type of its own (an OOMError...), nor try
// a call again on READONLY: hookflow looks at no such type, a commit is tried again by
// its worker (Pool.persist), and a start refused is answered 503 for its sender to
// try again.

// manyLoop calls one for each call of a batch. ARGV: 1 N, the number of calls, then N
// (number of keys, number of arguments) pairs, then each call's arguments in order;
// KEYS: each call's keys in order. Returns a pair for each call, in order: 1 and its
// reply (false for nil), or 0 and the text of its error reply, as Redis would have
// answered the call alone.
const manyLoop = `
local n = tonumber(ARGV[1])
local out, k, a = {}, 0, 1 + 2 * n
for i = 1, n do
  local nk, na = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local ok, res = pcall(one, {unpack(KEYS, k + 1, k + nk)}, {unpack(ARGV, a + 1, a + na)})
  k, a = k + nk, a + na
  if type(res) == 'table' and type(res.err) == 'string' then
    out[2 * i - 1], out[2 * i] = 0, res.err -- an error reply, returned or raised: as it is
  elseif not ok then
    -- Raised as text (hookflow's scripts raise none of their own): a command's error,
    -- which starts with its code (WRONGTYPE ...), or a Lua error, which Redis answers
    -- with ERR in front.
    res = tostring(res)
    out[2 * i - 1], out[2 * i] = 0, string.find(res, '^%u[%u%d_]* ') and res or 'ERR ' .. res
  else
    if res == nil then
      res = false
    end
    out[2 * i - 1], out[2 * i] = 1, res
  end
end
return out
`

// nowOnce makes lib.lua's now_ms read Redis's clock once a batch.
const nowOnce = `
local now_ms_each = now_ms
local now_once, now_once_s
now_ms = function()
  if not now_once then
    now_once, now_once_s = now_ms_each()
  end
  return now_once, now_once_s
end
`

// definesNow finds lib.lua's now_ms in a script's prelude.
var definesNow = regexp.MustCompile(`(?m)^local function now_ms\(`)

// manyOf is the batch form of each script the pipeliner carries.
var manyOf = map[*redis.Script]*redis.Script{
	startScript:    manyScript("start.lua"),
	completeScript: manyScript("complete.lua"),
	advanceScript:  manyScript("advance.lua"),
	finishScript:   manyScript("finish.lua"),
	retryScript:    manyScript("retry.lua"),
	wakeScript:     manyScript("wake.lua"),
}

// manyScript is the batch form of a script (scripts/<name>).
func manyScript(name string) *redis.Script {
	return manyOfSource(scriptSource(name))
}

// manyOfSource is the batch form of a script's text, src, with what it uses of lib.
func manyOfSource(lib, src string) *redis.Script {
	prelude := uses(lib, src)
	var b strings.Builder
	b.WriteString(prelude)
	b.WriteString("\n")
	if definesNow.MatchString(prelude) {
		b.WriteString(nowOnce)
	}
	b.WriteString("local function one(KEYS, ARGV)\n")
	b.WriteString(src)
	b.WriteString("\nend\n")
	b.WriteString(manyLoop)
	return redis.NewScript(b.String())
}

// manyCall lays out one call of many, the batch form of the script of calls: "evalsha",
// its hash, every call's keys, then the number of calls, each call's counts of keys and
// arguments, and every call's arguments. Each call's command is laid out as evalsha
// takes it: "evalsha", hash, number of keys, keys, arguments.
func manyCall(many *redis.Script, calls []*pipedCall) ([]any, error) {
	nkeys, nargs := 0, 0
	counts := make([][2]int, len(calls))
	for i, c := range calls {
		args := c.cmd.Args()
		if len(args) < 3 {
			return nil, fmt.Errorf("a call of %d arguments", len(args))
		}
		nk, err := keyCount(args[2])
		if err != nil || 3+nk > len(args) {
			return nil, fmt.Errorf("a call with a key count of %v", args[2])
		}
		counts[i] = [2]int{nk, len(args) - 3 - nk}
		nkeys, nargs = nkeys+nk, nargs+counts[i][1]
	}
	cmd := getArgs(3 + nkeys + 1 + 2*len(calls) + nargs) // back to the pool once answered (pipeliner.exec)
	cmd = append(cmd, "evalsha", many.Hash(), nkeys)
	for i, c := range calls {
		cmd = append(cmd, c.cmd.Args()[3:3+counts[i][0]]...)
	}
	cmd = append(cmd, len(calls))
	for _, n := range counts {
		cmd = append(cmd, n[0], n[1])
	}
	for i, c := range calls {
		cmd = append(cmd, c.cmd.Args()[3+counts[i][0]:]...)
	}
	return cmd, nil
}

// keyCount is an EVALSHA's number of keys, as the queue lays its calls out (an int).
func keyCount(v any) (int, error) {
	n, ok := v.(int)
	if !ok || n < 0 {
		return 0, fmt.Errorf("a key count of %T %v", v, v)
	}
	return n, nil
}

// setReplies gives each call of a batch its reply from the batch's: what the call
// would have had alone, but for an error reply's Go type (a redis.Error either way).
func setReplies(calls []*pipedCall, reply *redis.Cmd) {
	if err := reply.Err(); err != nil {
		for _, c := range calls {
			c.cmd.SetErr(err)
		}
		return
	}
	all, ok := reply.Val().([]any)
	if !ok || len(all) != 2*len(calls) {
		err := fmt.Errorf("a batch of %d calls answered %T of %d", len(calls), reply.Val(), len(all))
		for _, c := range calls {
			c.cmd.SetErr(err)
		}
		return
	}
	for i, c := range calls {
		kind, ok := all[2*i].(int64)
		v := all[2*i+1]
		switch {
		case !ok:
			c.cmd.SetErr(fmt.Errorf("a batch answered %v for a call's kind of reply", all[2*i]))
		case kind == 0:
			msg, _ := v.(string)
			c.cmd.SetErr(replyError(msg))
		case v == nil:
			c.cmd.SetErr(redis.Nil)
		default:
			c.cmd.SetVal(v)
		}
	}
}

// replyError is an error reply a call of a batch got: a Redis error, as go-redis gives
// one (redis.Error).
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}
