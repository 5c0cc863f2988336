package engine

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/internal/redistest"
)

// Each script carries the definitions of lib.lua it uses, and those they use, and no
// other.
func TestScriptsCarryWhatTheyUse(t *testing.T) {
	lib := "local A, B = 1, 2\n\n-- f doubles\nlocal function f(x)\n  return 2 * x\nend\n\nlocal function g(x)\n  return f(x) + A\nend\n\nlocal function h()\nend\n\n-- a comment alone"
	got := uses(lib, "return g(1)")
	for _, want := range []string{"local A, B", "-- f doubles\nlocal function f", "local function g"} {
		if !strings.Contains(got, want) {
			t.Errorf("uses lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "function h") || strings.Contains(got, "a comment alone") {
		t.Errorf("uses carries what is not used:\n%s", got)
	}
	if strings.Index(got, "function f") > strings.Index(got, "function g") {
		t.Errorf("not in lib's order:\n%s", got)
	}
}

// Every definition of lib.lua that a script's code (or what it carries) uses is among
// what it carries: a missing one would fail only when the line using it ran.
func TestEachScriptCarriesEveryDefinitionItUses(t *testing.T) {
	lib, _ := scriptFiles.ReadFile("scripts/lib.lua")
	entries, _ := scriptFiles.ReadDir("scripts")
	comment := regexp.MustCompile(`--[^\n]*`)
	var names []string
	for _, m := range definedRE.FindAllStringSubmatch(string(lib), -1) {
		for _, n := range strings.Split(m[1]+m[2], ",") {
			names = append(names, strings.TrimSpace(n))
		}
	}
	for _, e := range entries {
		if e.Name() == "lib.lua" {
			continue
		}
		src, _ := scriptFiles.ReadFile("scripts/" + e.Name())
		carried := uses(string(lib), string(src))
		code := comment.ReplaceAllString(string(src)+"\n"+carried, "")
		for _, n := range names {
			used := regexp.MustCompile(`\b` + n + `\b`).MatchString(code)
			defined := regexp.MustCompile(`(?m)^local (function )?[\w, ]*\b` + n + `\b`).MatchString(carried)
			if used && !defined {
				t.Errorf("%s uses %s but does not carry it", e.Name(), n)
			}
		}
	}
}

// Code in lib.lua that defines nothing uses() can see is refused when the scripts
// load, rather than dropped and missed only when a script runs.
func TestUsesRefusesCodeItCannotSee(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("a chunk of code without a definition was let through")
		}
	}()
	uses("local function f()\n  return 1\n\n  -- a blank line inside f\nend", "return f()")
}

// A time cut from TIME's digits is the milliseconds the arithmetic gives, with the
// zeros a reply of fewer than 1,000 or 100,000 microseconds leaves out, in Redis's Lua
// and in the embedded Redis's.
func TestMillisecondDigits(t *testing.T) {
	lib, _ := scriptFiles.ReadFile("scripts/lib.lua")
	src := `local out = {}
for i = 1, #ARGV, 2 do
  out[#out + 1] = ms_digits({ARGV[i], ARGV[i + 1]})
end
local n, digits = now_ms()
out[#out + 1] = tostring(n == tonumber(digits) and n > 1.7e12)
return out`
	script := uses(string(lib), src) + "\n" + src
	replies := [][2]string{{"1796266384", "0"}, {"1796266384", "999"}, {"1796266384", "1000"},
		{"1796266384", "4567"}, {"1796266384", "45678"}, {"1796266384", "123456"}, {"1796266384", "999999"}}
	want := []string{"1796266384000", "1796266384000", "1796266384001", "1796266384004", "1796266384045",
		"1796266384123", "1796266384999", "true"}
	var args []any
	for _, r := range replies {
		args = append(args, r[0], r[1])
	}
	redistest.Each(t, func(t *testing.T, b *redistest.Backend) {
		got, err := b.Client.Eval(context.Background(), script, nil, args...).StringSlice()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

// TestALostScriptLoadsWhereItRuns: a script Redis lost (a replica promoted that never had
// it) is given again to the node that serves the call, which works while another node
// of the cluster is down, as one is in a failover; go-redis's SCRIPT LOAD on a cluster
// goes to every node. So is a batch form.
func TestALostScriptLoadsWhereItRuns(t *testing.T) {
	b := redistest.NewCluster(t, 0)
	ctx := context.Background()
	e := New(b.Client, Options{Shards: redistest.ClusterShards, Logger: quiet, Lease: time.Minute, Retention: time.Hour})
	set := loadSet(t, &recorder{}, chainSrc)
	e.Use(set)
	chain := set.Workflow("chain")
	sh := e.q.shardFor("chain")
	primary, err := b.Cluster.PrimaryOf(ctx, sh.due())
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range b.Cluster.Addrs {
		if addr != primary {
			b.Cluster.Kill(addr) // a node the call does not go to
			break
		}
	}
	if err := b.Cluster.Node(t, primary).ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := e.q.start(ctx, "alone", chain, []byte(`{"body":{}}`), ""); err != nil {
		t.Fatalf("a start whose script was lost, with a node down: %v", err)
	}
	calls := &scriptCalls{ran: map[string]int{}}
	b.Client.AddHook(calls)
	for _, round := range []string{"lost", "kept"} {
		calls.forget()
		errs := make([]error, 3)
		holdCalls(t, sh, len(errs), func() {
			var wg sync.WaitGroup
			for i := range errs {
				wg.Go(func() {
					errs[i] = e.q.start(ctx, fmt.Sprintf("%s%d", round, i), chain, []byte(`{"body":{}}`), "")
				})
			}
			wg.Wait()
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("%s: start %d of a batch: %v", round, i, err)
			}
		}
	}
	// The first batch found its form lost and ran its calls alone; the form was given
	// back, and the second batch ran as one call of it.
	calls.wentTogether(t, manyOf[startScript], startScript)
}

// TestALostScriptRunsWithItsText: when the script cannot be loaded on the call's node
// (here a user whose rights leave out SCRIPT LOAD; after a failover, a slot map not
// yet updated), the call runs with the script's text, and Redis keeps it; so does a
// batch form, given back with no call in it.
func TestALostScriptRunsWithItsText(t *testing.T) {
	b := redistest.Real(t)
	ctx := context.Background()
	if err := b.Client.Do(ctx, "ACL", "SETUSER", "noload", "on", ">noload-pw", "~*", "&*", "+@all", "-script|load").Err(); err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: strings.TrimPrefix(b.URL, "redis://"), Username: "noload", Password: "noload-pw"})
	defer rdb.Close()
	calls := &scriptCalls{ran: map[string]int{}}
	rdb.AddHook(calls)
	lib, _ := scriptSource("lib.lua")
	one := redis.NewScript(uses(lib, probeScript) + "\n" + probeScript)
	many := manyOfSource(lib, probeScript)
	if err := one.Load(ctx, rdb).Err(); err == nil {
		t.Fatal("SCRIPT LOAD was allowed: the test cannot see the fallback")
	}
	if v, err := evalsha(ctx, rdb, one, probeCall(one, "{t}:alone", "set", "a")).Text(); v != "a" || err != nil {
		t.Fatalf("a call whose script could not be loaded: %q %v", v, err)
	}
	p := newPipeliner(rdb)
	p.forms = map[*redis.Script]*redis.Script{one: many}
	setBatch(t, p, one, "lost")
	calls.forget()
	setBatch(t, p, one, "kept")
	calls.wentTogether(t, many, one)
}

// TestAScriptLoadedElsewhereRunsWithItsText: after a failover, a slot map not yet
// updated names the old primary, now a replica, which takes SCRIPT LOAD; the call,
// sent again, is moved to the new primary, which still lacks the script. It then runs
// with the script's text: NOSCRIPT says it did not run, and a start must not be
// answered as one that may have been stored.
func TestAScriptLoadedElsewhereRunsWithItsText(t *testing.T) {
	b := redistest.Real(t)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: strings.TrimPrefix(b.URL, "redis://")})
	defer rdb.Close()
	lib, _ := scriptSource("lib.lua")
	one := redis.NewScript(uses(lib, probeScript) + "\n" + probeScript)
	rdb.AddHook(&lostAfterLoad{rdb: b.Client})
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := evalsha(ctx, rdb, one, probeCall(one, "{t}:elsewhere", "set", "a")).Text(); v != "a" || err != nil {
		t.Fatalf("a call whose script was loaded on another node: %q %v", v, err)
	}
}

// lostAfterLoad is a hook that flushes Redis's scripts after each SCRIPT LOAD, as if
// the load had gone to another node.
type lostAfterLoad struct{ rdb redis.UniversalClient }

func (h *lostAfterLoad) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *lostAfterLoad) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if args := cmd.Args(); len(args) == 3 && fmt.Sprint(args[0]) == "script" && fmt.Sprint(args[1]) == "load" && err == nil {
			_ = h.rdb.ScriptFlush(ctx).Err()
		}
		return err
	}
}

func (h *lostAfterLoad) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
