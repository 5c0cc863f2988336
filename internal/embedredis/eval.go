package embedredis

import (
	"crypto/sha1"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/alicebob/miniredis/v2/server"
	lua "github.com/yuin/gopher-lua"
)

// Replies as a real Redis words them, which clients match (go-redis falls back from
// EVALSHA to EVAL on NOSCRIPT).
const (
	msgNoScript    = "NOSCRIPT No matching script. Please use EVAL."
	msgInvalidInt  = "ERR value is not an integer or out of range"
	msgNumKeys     = "ERR Number of keys can't be greater than number of args"
	msgNegNumKeys  = "ERR Number of keys can't be negative"
	msgWrongNumber = "ERR wrong number of arguments for '%s' command"
)

// eval runs EVAL, EVALSHA or their read-only forms for c.
func (g *gate) eval(c *server.Peer, cmd string, args []string) {
	if len(args) < 2 {
		c.WriteError(strings.Replace(msgWrongNumber, "%s", strings.ToLower(cmd), 1))
		return
	}
	var sha string
	var proto *lua.FunctionProto
	if strings.HasPrefix(cmd, "EVALSHA") {
		if sha, proto = strings.ToLower(args[0]), g.compiled(args[0]); proto == nil {
			c.WriteError(msgNoScript)
			return
		}
	} else {
		var fresh bool
		var err error
		if sha, proto, fresh, err = g.remember(args); err != nil {
			c.WriteError("ERR Error compiling script (new function): " + err.Error())
			return
		}
		if fresh {
			g.mu.Lock()
			g.run.register(args[0]) // for an EVALSHA queued in a MULTI, which miniredis runs
			g.mu.Unlock()
		}
	}
	n, err := strconv.Atoi(args[1])
	switch {
	case err != nil:
		c.WriteError(msgInvalidInt)
		return
	case n < 0:
		c.WriteError(msgNegNumKeys)
		return
	case n > len(args)-2:
		c.WriteError(msgNumKeys)
		return
	}
	keys, argv := args[2:2+n], args[2+n:]

	g.mu.Lock()
	defer g.mu.Unlock()
	g.run.exec(c, sha, proto, keys, argv, strings.HasSuffix(cmd, "_RO"))
}

func sha1Hex(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}
