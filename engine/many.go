package engine

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The calls of one script that a pipelined batch holds (starts, or commits) go to Redis
// as one call of the script's batch form: its text made a function of its keys and
// arguments, called once for each call, in one script. Redis charges every script call
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

// manyLoop calls one for each call of a batch. ARGV: 1 N, the number of calls, then N
// (number of keys, number of arguments) pairs, then each call's arguments in order;
// KEYS: each call's keys in order. Returns each call's reply in order, an error reply
// in its place, and false for nil (a Lua list ends at its first nil).
const manyLoop = `
local n = tonumber(ARGV[1])
local out, k, a = {}, 0, 1 + 2 * n
for i = 1, n do
  local nk, na = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local ok, res = pcall(one, {unpack(KEYS, k + 1, k + nk)}, {unpack(ARGV, a + 1, a + na)})
  k, a = k + nk, a + na
  if not ok then
    -- An error reply a command gave (a table, or its text), or a Lua error (text): as
    -- Redis replies to a script that raised it, with ERR in front of text without a code.
    if type(res) ~= 'table' or type(res.err) ~= 'string' then
      res = tostring(res)
      res = {err = string.find(res, '^%u[%u%d_]* ') and res or 'ERR ' .. res}
    end
  elseif res == nil then
    res = false
  end
  out[i] = res
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
	cmd := make([]any, 0, 3+nkeys+1+2*len(calls)+nargs)
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

// keyCount is an EVALSHA's number of keys, as its caller gave it.
func keyCount(v any) (int, error) {
	switch n := v.(type) {
	case int:
		return n, nil
	case int64:
		return int(n), nil
	case string:
		return strconv.Atoi(n)
	}
	return 0, fmt.Errorf("key count of type %T", v)
}

// setReplies gives each call of a batch its reply from the batch's: what the call
// would have had alone. But for one kind of error: go-redis reads an error reply it
// gives a type of its own (OOM, READONLY, NOPERM...) as the whole reply's error, even
// inside a list, and drops the connection. Those say what state Redis is in (full, a
// replica, the user's rights), which every call of the batch that writes meets as
// well: each call gets the error (a webhook's sender, a 503), as does a call that only
// read (a start of a run that exists), which alone would have had its answer.
func setReplies(calls []*pipedCall, reply *redis.Cmd) {
	if err := reply.Err(); err != nil {
		for _, c := range calls {
			c.cmd.SetErr(err)
		}
		return
	}
	all, ok := reply.Val().([]any)
	if !ok || len(all) != len(calls) {
		err := fmt.Errorf("a batch of %d calls answered %T of %d", len(calls), reply.Val(), len(all))
		for _, c := range calls {
			c.cmd.SetErr(err)
		}
		return
	}
	for i, c := range calls {
		var re redis.Error
		switch v := all[i].(type) {
		case nil:
			c.cmd.SetErr(redis.Nil)
		case error:
			if errors.As(v, &re) {
				c.cmd.SetErr(re)
			} else {
				c.cmd.SetErr(v)
			}
		default:
			c.cmd.SetVal(v)
		}
	}
}
