package embedredis

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	luajson "github.com/alicebob/miniredis/v2/gopher-json"
	"github.com/alicebob/miniredis/v2/server"
	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// runner runs scripts, one at a time, in one Lua state made once. A script's globals
// are locked, as in a real Redis, so nothing one script does is seen by the next but
// what it wrote to Redis.
type runner struct {
	srv *server.Server
	l   *lua.LState

	// What a script's redis.call is dispatched as, and the buffer its reply is read
	// back from.
	peer *server.Peer
	out  bytes.Buffer
	w    *bufio.Writer
	r    *bufio.Reader

	readOnly bool // the script running came as EVAL_RO or EVALSHA_RO
}

func init() {
	// A function taking "..." that does not use it gets an implicit local "arg" table in
	// Lua 5.0's way, made at each call; a script's chunk is such a function, so that was
	// a table and two Go maps per script call. hookflow's scripts use no "arg", and a
	// real Redis has none at a script's top level either; a function declared inside a
	// script has one there, and not here. gopher-lua reads this setting for the whole
	// process, both when it compiles and when it calls: it is set once, before any
	// script is compiled, and never changed.
	lua.CompatVarArg = false
}

func newRunner(srv *server.Server) *runner {
	r := &runner{srv: srv}
	r.w = bufio.NewWriter(&r.out)
	r.r = bufio.NewReader(&r.out)
	r.peer = server.NewPeer(r.w)

	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	for name, open := range map[string]lua.LGFunction{
		lua.LoadLibName:   lua.OpenPackage, // for require, which cjson is loaded by
		lua.BaseLibName:   lua.OpenBase,
		lua.TabLibName:    lua.OpenTable,
		lua.StringLibName: lua.OpenString,
		lua.MathLibName:   lua.OpenMath,
	} {
		l.Push(l.NewFunction(open))
		l.Push(lua.LString(name))
		l.Call(1, 0)
	}
	luajson.Preload(l)
	if err := l.DoString(`cjson = require("json")`); err != nil {
		panic(err) // the library is part of the binary: it loads
	}
	mod := l.NewTable()
	for name, fn := range map[string]lua.LGFunction{
		"call":               r.call(true),
		"pcall":              r.call(false),
		"error_reply":        errorReply,
		"status_reply":       statusReply,
		"sha1hex":            func(l *lua.LState) int { l.Push(lua.LString(sha1Hex(l.CheckString(1)))); return 1 },
		"log":                func(*lua.LState) int { return 0 },
		"replicate_commands": func(l *lua.LState) int { l.Push(lua.LTrue); return 1 },
		"set_repl":           func(*lua.LState) int { return 0 },
	} {
		mod.RawSetString(name, l.NewFunction(fn))
	}
	for i, name := range []string{"LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING"} {
		mod.RawSetString(name, lua.LNumber(i))
	}
	l.SetGlobal("redis", mod)
	l.SetGlobal("server", mod)
	// From here on a script can neither make a global nor read one that is not there.
	if err := l.DoString(`
local mt = {}
mt.__newindex = function(t, n, v) error("Attempt to modify a readonly table", 2) end
mt.__index = function(t, n) error("Script attempted to access nonexistent global variable '" .. tostring(n) .. "'", 2) end
setmetatable(_G, mt)`); err != nil {
		panic(err)
	}
	r.l = l
	return r
}

// compile compiles the script src.
func compile(src string) (*lua.FunctionProto, error) {
	chunk, err := parse.Parse(strings.NewReader(src), "@user_script")
	if err != nil {
		return nil, err
	}
	return lua.Compile(chunk, "user_script")
}

// register loads src into miniredis's own script cache too.
func (r *runner) register(src string) {
	r.dispatch([]string{"SCRIPT", "LOAD", src})
}

// exec runs the script sha, compiled as proto, with keys and argv, and writes its
// reply to c.
func (r *runner) exec(c *server.Peer, sha string, proto *lua.FunctionProto, keys, argv []string, readOnly bool) {
	l := r.l
	defer l.SetTop(0)
	r.readOnly = readOnly
	l.G.Global.RawSetString("KEYS", strings2table(l, keys))
	l.G.Global.RawSetString("ARGV", strings2table(l, argv))
	l.Push(l.NewFunctionFromProto(proto))
	if err := l.PCall(0, 1, nil); err != nil {
		c.WriteError(scriptError(err, sha))
		return
	}
	toReply(l, c, l.Get(-1))
}

// scriptError words an error a script raised as a real Redis does: "ERR" unless the
// error is a reply that already carries its code.
func scriptError(err error, sha string) string {
	msg := err.Error()
	if e, ok := err.(*lua.ApiError); ok {
		if t, ok := e.Object.(*lua.LTable); ok && t.RawGetString("err") != lua.LNil {
			return t.RawGetString("err").String() // error(redis.error_reply(...))
		}
		msg = e.Object.String()
	}
	msg = strings.TrimSpace(strings.SplitN(msg, "\nstack traceback:", 2)[0])
	return fmt.Sprintf("ERR %s script: %s", msg, sha)
}

func strings2table(l *lua.LState, s []string) *lua.LTable {
	t := l.CreateTable(len(s), 0)
	for i, v := range s {
		t.RawSetInt(i+1, lua.LString(v))
	}
	return t
}

// refused are the commands a script may not call: they would wait for another client,
// or act on the connection rather than on data.
var refused = map[string]bool{
	"MULTI": true, "EXEC": true, "DISCARD": true, "WATCH": true, "UNWATCH": true,
	"EVAL": true, "EVALSHA": true, "EVAL_RO": true, "EVALSHA_RO": true, "SCRIPT": true,
	"SELECT": true, "AUTH": true, "HELLO": true, "CLIENT": true, "QUIT": true,
}

// call is redis.call (raise, true) or redis.pcall (raise, false).
func (r *runner) call(raise bool) lua.LGFunction {
	return func(l *lua.LState) int {
		top := l.GetTop()
		if top == 0 {
			l.RaiseError("Please specify at least one argument for this redis lib call")
			return 0
		}
		args := make([]string, top)
		for i := 1; i <= top; i++ {
			switch a := l.Get(i).(type) {
			case lua.LNumber:
				args[i-1] = a.String()
			case lua.LString:
				args[i-1] = string(a)
			default:
				l.RaiseError("Lua redis lib command arguments must be strings or integers")
				return 0
			}
		}
		name := strings.ToUpper(args[0])
		var reply any
		var err error
		switch {
		case refused[name] || blocking[name]:
			err = fmt.Errorf("ERR This Redis command is not allowed from script")
		case r.readOnly && !r.srv.IsReadOnlyCommand(name) && r.srv.IsRegisteredCommand(name):
			err = fmt.Errorf("ERR Write commands are not allowed from read-only scripts")
		default:
			reply, err = r.dispatch(args)
		}
		if err != nil {
			if raise {
				l.RaiseError("%s", err.Error())
				return 0
			}
			t := l.NewTable()
			t.RawSetString("err", lua.LString(err.Error()))
			l.Push(t)
			return 1
		}
		l.Push(toLua(l, reply))
		return 1
	}
}

// dispatch runs one command past the gate, which the running script holds, and reads
// back its reply.
func (r *runner) dispatch(args []string) (any, error) {
	r.out.Reset()
	r.w.Reset(&r.out)
	r.srv.Dispatch(r.peer, args)
	if err := r.w.Flush(); err != nil {
		return nil, err
	}
	r.r.Reset(&r.out)
	return server.ParseReply(r.r)
}

// toLua converts a command's reply for a script, as a real Redis does: a nil bulk is
// false, a status reply a table with ok.
func toLua(l *lua.LState, reply any) lua.LValue {
	switch v := reply.(type) {
	case nil:
		return lua.LFalse
	case int:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []byte:
		return lua.LString(v)
	case server.Simple:
		t := l.NewTable()
		t.RawSetString("ok", lua.LString(v))
		return t
	case []any:
		t := l.CreateTable(len(v), 0)
		for i, e := range v {
			t.RawSetInt(i+1, toLua(l, e))
		}
		return t
	default:
		return lua.LString(fmt.Sprint(v))
	}
}

// toReply writes a script's result to c, as a real Redis converts it: a number is
// an integer, true is 1, false and nil a nil reply, a table with err or ok an error or
// status reply, any other table an array up to its first nil.
func toReply(l *lua.LState, c *server.Peer, v lua.LValue) {
	switch v := v.(type) {
	case lua.LNumber:
		c.WriteInt(int(v))
	case lua.LString:
		c.WriteBulk(string(v))
	case lua.LBool:
		if v {
			c.WriteInt(1)
		} else {
			c.WriteNull()
		}
	case *lua.LTable:
		if e := v.RawGetString("err"); e != lua.LNil {
			c.WriteError(e.String())
			return
		}
		if ok := v.RawGetString("ok"); ok != lua.LNil {
			c.WriteInline(ok.String())
			return
		}
		n := 0
		for v.RawGetInt(n+1) != lua.LNil {
			n++
		}
		c.WriteLen(n)
		for i := 1; i <= n; i++ {
			toReply(l, c, v.RawGetInt(i))
		}
	default:
		c.WriteNull()
	}
}

// errorReply is redis.error_reply: a table with err.
func errorReply(l *lua.LState) int {
	msg := strings.TrimPrefix(l.CheckString(1), "-")
	t := l.NewTable()
	t.RawSetString("err", lua.LString(msg))
	l.Push(t)
	return 1
}

// statusReply is redis.status_reply: a table with ok.
func statusReply(l *lua.LState) int {
	t := l.NewTable()
	t.RawSetString("ok", lua.LString(l.CheckString(1)))
	l.Push(t)
	return 1
}
