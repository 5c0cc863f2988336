// Package embedredis is the in-process Redis of a hookflow started without --redis,
// and of the tests: miniredis, with hookflow's own runner for its Lua scripts.
//
// miniredis runs each script in a new Lua state, with a new reader and writer for
// each redis.call inside it: most of the embedded Redis's time and nearly all of its
// memory went there. Here one Lua state, made once, runs every script, and the
// commands a script calls reuse one buffer. The scripts are the same ones a real Redis
// runs, and atomic in the same way: a gate that every command passes lets a script run
// only while no other command does.
package embedredis

import (
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
	lua "github.com/yuin/gopher-lua"
)

// Redis is an embedded Redis: miniredis, with the gate before its commands.
type Redis struct {
	*miniredis.Miniredis
	g              *gate
	stopForgetting func() // closes forgetting's channel, once

	dialing sync.Mutex // held by Dial while it connects, and by Close to mark closed
	closed  bool
}

// Close stops the embedded Redis. Dial refuses from then on, as a dial to its closed
// listener would.
func (r *Redis) Close() {
	r.dialing.Lock()
	r.closed = true
	r.dialing.Unlock()
	r.stopForgetting()
	r.Miniredis.Close()
}

// FastForward counts time to live down by d, as miniredis does only when told, between
// scripts: a key does not expire in the middle of one.
func (r *Redis) FastForward(d time.Duration) {
	r.g.mu.Lock()
	defer r.g.mu.Unlock()
	r.Miniredis.FastForward(d)
}

// Start starts an embedded Redis on a free port of 127.0.0.1, for tests that give its
// address to a client; Dial reaches it too.
func Start() (*Redis, error) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, err
	}
	return started(m), nil
}

// StartInMemory starts an embedded Redis that only Dial reaches. It has no port, so
// no other process on the machine (nor a web page that makes a browser post to
// 127.0.0.1) can read the runs it holds or queue work in it: miniredis asks no
// password, and, unlike redis-server, does not turn away a request that is HTTP.
func StartInMemory() (*Redis, error) {
	m := miniredis.NewMiniRedis()
	// miniredis's own Dial starts a server with no listener; its connection is not
	// needed past that.
	c, err := m.Dial()
	if err != nil {
		return nil, err
	}
	c.Close()
	return started(m), nil
}

// started puts the gate before the commands of m, a started miniredis.
func started(m *miniredis.Miniredis) *Redis {
	g := &gate{
		srv:     m.Server(),
		passing: make(map[*server.Peer]struct{}),
		multi:   make(map[*server.Peer]struct{}),
		watched: make(map[*server.Peer]struct{}),
		protos:  make(map[string]*lua.FunctionProto),
	}
	g.run = newRunner(g.srv)
	g.srv.SetPreHook(g.hook)
	stop := make(chan struct{})
	r := &Redis{Miniredis: m, g: g, stopForgetting: sync.OnceFunc(func() { close(stop) })}
	go forgetting(m, stop)
	return r
}

// gate stands before every command the embedded Redis gets (miniredis's pre-hook: so
// miniredis's SetError must not be used on it). Commands share it; a script holds it
// alone, from its first redis.call to its reply, as a real Redis runs it.
type gate struct {
	srv *server.Server
	mu  sync.RWMutex
	run *runner // a script's Lua state; used under mu held alone

	peers   sync.Mutex
	passing map[*server.Peer]struct{} // clients whose command is being dispatched past the gate
	multi   map[*server.Peer]struct{} // clients between MULTI and EXEC or DISCARD
	watched map[*server.Peer]struct{} // clients that sent a MULTI: forgotten when they leave

	scripts sync.Mutex
	protos  map[string]*lua.FunctionProto // every script loaded or run, compiled, by SHA1
}

// blocking commands wait for another client's command, so they cannot hold the gate;
// each of their tries is atomic on its own, and may come between two commands of a
// script. hookflow's one blocking command, BLPOP of a shard's wake-up list, takes what
// scripts only push.
var blocking = map[string]bool{
	"BLPOP": true, "BRPOP": true, "BRPOPLPUSH": true, "BLMOVE": true, "BLMPOP": true,
	"BZPOPMIN": true, "BZPOPMAX": true, "BZMPOP": true, "XREAD": true, "XREADGROUP": true,
	"SUBSCRIBE": true, "PSUBSCRIBE": true, "SSUBSCRIBE": true,
}

func (g *gate) hook(c *server.Peer, cmd string, args ...string) bool {
	if c == g.run.peer || nested(c) {
		return false // a script's own command: the script, or the EXEC it is in, holds the gate
	}
	g.peers.Lock()
	_, passing := g.passing[c]
	_, inMulti := g.multi[c]
	g.peers.Unlock()
	switch {
	case passing || blocking[cmd]:
		return false
	case (cmd == "EVAL" || cmd == "EVALSHA" || cmd == "EVAL_RO" || cmd == "EVALSHA_RO") && !inMulti:
		g.eval(c, cmd, args)
		return true
	case cmd == "EVAL" && inMulti:
		g.remember(args) // queued: miniredis runs it at EXEC, while EXEC holds the gate
	case cmd == "SCRIPT" && len(args) > 0:
		switch strings.ToUpper(args[0]) {
		case "LOAD":
			g.remember(args[1:]) // miniredis loads it too, and answers
		case "FLUSH":
			g.scripts.Lock()
			clear(g.protos)
			g.scripts.Unlock()
		}
	}
	g.pass(c, cmd, args)
	switch cmd {
	case "MULTI":
		g.peers.Lock()
		g.multi[c] = struct{}{}
		if _, ok := g.watched[c]; !ok {
			g.watched[c] = struct{}{}
			c.OnDisconnect(func() { // a client gone within a MULTI
				g.peers.Lock()
				delete(g.multi, c)
				delete(g.watched, c)
				g.peers.Unlock()
			})
		}
		g.peers.Unlock()
	case "EXEC", "DISCARD":
		g.endMulti(c)
	}
	return true
}

func (g *gate) endMulti(c *server.Peer) {
	g.peers.Lock()
	delete(g.multi, c)
	g.peers.Unlock()
}

// pass dispatches c's command to miniredis, holding the gate shared.
func (g *gate) pass(c *server.Peer, cmd string, args []string) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	g.peers.Lock()
	g.passing[c] = struct{}{}
	g.peers.Unlock()
	defer func() {
		g.peers.Lock()
		delete(g.passing, c)
		g.peers.Unlock()
	}()
	g.srv.Dispatch(c, append([]string{cmd}, args...))
}

// remember compiles and keeps a script given to SCRIPT LOAD or EVAL (args[0]), unless
// it is kept already: its SHA1, the compiled script, whether it was new, or the
// compile error.
func (g *gate) remember(args []string) (sha string, proto *lua.FunctionProto, fresh bool, err error) {
	if len(args) == 0 {
		return "", nil, false, nil
	}
	sha = sha1Hex(args[0])
	if proto = g.compiled(sha); proto != nil {
		return sha, proto, false, nil
	}
	if proto, err = compile(args[0]); err != nil {
		return sha, nil, false, err
	}
	g.scripts.Lock()
	g.protos[sha] = proto
	g.scripts.Unlock()
	return sha, proto, true, nil
}

// compiled is the script whose SHA1 is sha, compiled; nil when none is kept.
func (g *gate) compiled(sha string) *lua.FunctionProto {
	g.scripts.Lock()
	defer g.scripts.Unlock()
	return g.protos[strings.ToLower(sha)]
}

// nested reports whether c is a command of a script miniredis runs itself (one queued
// in a MULTI, run at EXEC while EXEC holds the gate and miniredis's lock): miniredis
// marks the peer it makes for each such command. Gating it again would wait behind a
// script waiting for that EXEC.
func nested(c *server.Peer) bool {
	if c.Ctx == nil {
		return false
	}
	v := reflect.ValueOf(c.Ctx)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return false
	}
	f := v.Elem().FieldByName("nested")
	return f.IsValid() && f.Kind() == reflect.Bool && f.Bool()
}
