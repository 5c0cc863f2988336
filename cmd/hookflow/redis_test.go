package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookflow/hookflow/engine"
	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// The same redis:// URL opens a standalone Redis or a cluster, as the server says.
func TestOpenRedisAsksWhatTheServerIs(t *testing.T) {
	ctx := context.Background()
	single := redistest.Real(t)
	cluster := redistest.SharedCluster(t)
	for _, c := range []struct {
		name, url, mode string
		cluster         bool
	}{
		{"standalone", single.URL + "/0", engine.RedisStandalone, false},
		{"cluster node", cluster.URL, engine.RedisCluster, true},
		{"cluster with seeds", cluster.URL + "/0?addr=" + cluster.Cluster.Addrs[1] + "&addr=" + cluster.Cluster.Addrs[2], engine.RedisCluster, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			rdb, mode, closeRedis, err := openRedis(ctx, c.url, redisTLS{}, 4, discard)
			if err != nil {
				t.Fatal(err)
			}
			defer closeRedis()
			_, isCluster := rdb.(*redis.ClusterClient)
			if mode != c.mode || isCluster != c.cluster {
				t.Errorf("mode %s, cluster client %v; want %s, %v", mode, isCluster, c.mode, c.cluster)
			}
			if err := rdb.Set(ctx, "{a}", 1, 0).Err(); err != nil {
				t.Error(err)
			}
			if err := rdb.Set(ctx, "{b}", 1, 0).Err(); err != nil { // another slot, maybe another node
				t.Error(err)
			}
		})
	}
}

func TestOpenRedisRefusesWhatCannotWork(t *testing.T) {
	ctx := context.Background()
	single := redistest.Real(t)
	cluster := redistest.SharedCluster(t)
	for _, c := range []struct{ name, url, want string }{
		{"a cluster's db 2", cluster.URL + "/2", "a cluster has only database 0"},
		{"seeds of no cluster", single.URL + "?addr=127.0.0.1:1", "is not one"},
		{"sentinel without a primary name", "redis+sentinel://127.0.0.1:26379", "names its Sentinels and the primary"},
		{"sentinel with a bad db", "redis+sentinel://127.0.0.1:26379/mymaster/x", `database "x"`},
		{"sentinel with an unknown option", "redis+sentinel://127.0.0.1:26379/mymaster?pool=3", `not "pool"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, _, err := openRedis(ctx, c.url, redisTLS{}, 4, discard)
			var u *usageError
			if !errors.As(err, &u) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want a usage error saying %q", err, c.want)
			}
		})
	}
}

func TestParseSentinelURL(t *testing.T) {
	o, err := parseSentinelURL("redis+sentinel://app:s%40cret@10.0.0.1:26379,10.0.0.2/mymaster/3?sentinel_password=pw")
	if err != nil {
		t.Fatal(err)
	}
	if o.MasterName != "mymaster" || o.DB != 3 || o.Username != "app" || o.Password != "s@cret" || o.SentinelPassword != "pw" ||
		strings.Join(o.SentinelAddrs, ",") != "10.0.0.1:26379,10.0.0.2:26379" || o.TLSConfig != nil {
		t.Errorf("%+v", o)
	}
	o, err = parseSentinelURL("rediss+sentinel://h:26380/primary")
	if err != nil || o.TLSConfig == nil || o.DB != 0 || o.SentinelAddrs[0] != "h:26380" {
		t.Errorf("%+v %v", o, err)
	}
	// IPv6 addresses: a colon is no port.
	for _, c := range []struct{ hosts, want string }{
		{"[::1]", "[::1]:26379"},
		{"[::1]:26380", "[::1]:26380"},
		{"[fe80::1],h2,[2001:db8::2]:1", "[fe80::1]:26379,h2:26379,[2001:db8::2]:1"},
	} {
		t.Run(c.hosts, func(t *testing.T) {
			o, err := parseSentinelURL("redis+sentinel://" + c.hosts + "/mymaster/0")
			if err != nil || strings.Join(o.SentinelAddrs, ",") != c.want {
				t.Errorf("%v %v, want %s", o.SentinelAddrs, err, c.want)
			}
		})
	}
}

// A redis+sentinel:// URL reaches the primary a Sentinel monitors.
func TestOpenRedisThroughSentinel(t *testing.T) {
	primary := redistest.Real(t)
	sentinel := redistest.Sentinel(t, "mymaster", strings.TrimPrefix(primary.URL, "redis://"))
	ctx := context.Background()
	rdb, mode, closeRedis, err := openRedis(ctx, "redis+sentinel://"+sentinel+"/mymaster/0", redisTLS{}, 4, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer closeRedis()
	if mode != engine.RedisSentinel {
		t.Errorf("mode %s", mode)
	}
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got := primary.Client.Get(ctx, "k").Val(); got != "v" {
		t.Errorf("the primary has %q", got)
	}
}

// loadingRedis is a Redis that has just restarted: it answers PING with LOADING the
// first loading times, as Redis does while it reads its dataset back, then PONG.
func loadingRedis(t *testing.T, loading int) string {
	t.Helper()
	var pings atomic.Int32
	return fakeRedis(t, func(args []string) string {
		switch cmd := strings.ToUpper(args[0]); {
		case cmd == "INFO":
			info := "# Cluster\r\ncluster_enabled:0\r\n"
			return fmt.Sprintf("$%d\r\n%s\r\n", len(info), info)
		case cmd == "PING" && int(pings.Add(1)) <= loading:
			return "-LOADING Redis is loading the dataset in memory\r\n"
		case cmd == "PING":
			return "+PONG\r\n"
		default:
			return "-ERR unknown command\r\n"
		}
	})
}

// fakeRedis is a server on a free port that answers each command, its arguments args,
// with the RESP text reply(args). It returns its redis:// URL.
func fakeRedis(t *testing.T, reply func(args []string) string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				r := bufio.NewReader(conn)
				for {
					var args []string
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "*")))
					for range n {
						if _, err := r.ReadString('\n'); err != nil { // $len
							return
						}
						arg, err := r.ReadString('\n')
						if err != nil {
							return
						}
						args = append(args, strings.TrimSpace(arg))
					}
					if len(args) == 0 {
						return
					}
					if _, err := io.WriteString(conn, reply(args)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "redis://" + ln.Addr().String()
}

// A Redis loading its dataset is waited for, not taken for one that is down; the
// wait is logged once.
func TestOpenRedisWaitsForALoadingRedis(t *testing.T) {
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	start := time.Now()
	_, _, closeRedis, err := openRedis(context.Background(), loadingRedis(t, 2), redisTLS{}, 1, log)
	if err != nil {
		t.Fatalf("a loading Redis was not waited for: %v", err)
	}
	closeRedis()
	if n := strings.Count(logs.String(), "Redis is loading"); n != 1 {
		t.Errorf("the wait was logged %d times:\n%s", n, logs.String())
	}
	if time.Since(start) < loadingPoll {
		t.Error("no wait between the pings")
	}

	// A signal ends the wait (a context that ends, here).
	ctx, cancel := context.WithTimeout(context.Background(), loadingPoll+loadingPoll/2)
	defer cancel()
	_, _, _, err = openRedis(ctx, loadingRedis(t, 1<<30), redisTLS{}, 1, discard)
	var u *unreachableError
	if !errors.As(err, &u) || !strings.Contains(err.Error(), "while Redis was loading") {
		t.Errorf("error %v", err)
	}
}

// silentRedis accepts connections and never answers on them: a Redis that hangs, or
// a port a firewall holds open.
func silentRedis(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return "redis://" + ln.Addr().String()
}

// serve started against a Redis that cannot be reached exits with status 3, saying it
// cannot reach Redis, after 5 s of trying: whether nothing listens there (a Redis being
// restarted, which may be back within them) or something listens and never answers.
// It names each address it tried and what that one did, the nodes of a cluster URL
// asked at once, so that one that never answers leaves the others their answer; and
// never the URL's password.
func TestServeExitsWhenRedisCannotBeReached(t *testing.T) {
	t.Setenv("FAULT_API", "http://127.0.0.1:1") // no step runs
	dir := testutil.WriteRelay(t)
	down, down2 := refusingAddr(t), refusingAddr(t)
	silent := strings.TrimPrefix(silentRedis(t), "redis://")
	refused := func(addr string) string { return addr + ": dial tcp " + addr + ": connect: connection refused" }
	for _, c := range []struct {
		name, url string
		want      []string
	}{
		{"nothing listening", "redis://:hunter2-secret@" + down, []string{refused(down)}},
		{"a listener that never answers", "redis://:hunter2-secret@" + silent, []string{silent + ": no answer within 5s"}},
		{"cluster nodes, none listening", "redis://:hunter2-secret@" + down + "?addr=" + down2,
			[]string{refused(down) + "; " + refused(down2)}},
		{"cluster nodes, one never answering", "redis://:hunter2-secret@" + silent + "?addr=" + down,
			[]string{silent + ": no answer within 5s; " + refused(down)}},
		{"sentinels, none listening", "redis+sentinel://:hunter2-secret@" + down + "," + down2 + "/mymaster/0?sentinel_password=hunter2-secret",
			[]string{"no Sentinel of mymaster told its address: " + refused(down) + "; " + refused(down2)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stderr bytes.Buffer
			start := time.Now()
			err := run(context.Background(), []string{"serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
				"--redis", c.url, dir}, nil, io.Discard, &stderr)
			took := time.Since(start)
			if code := exitStatus(err, &stderr); code != 3 {
				t.Errorf("exit status %d (%v), want 3", code, err)
			}
			out := stderr.String()
			for _, want := range append([]string{"cannot reach Redis"}, c.want...) {
				if !strings.Contains(out, want) {
					t.Errorf("stderr does not say %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "hunter2") || strings.Contains(out, "context deadline exceeded") {
				t.Errorf("stderr says the password, or that a deadline passed:\n%s", out)
			}
			if took > 30*time.Second {
				t.Errorf("gave up after %v", took)
			}
			if took < 5*time.Second {
				t.Errorf("gave up after %v, before the 5 s a Redis has to answer", took)
			}
			t.Logf("gave up after %v: %s", took, out)
		})
	}
}

// serve and worker started on a Redis Cluster that has lost a primary and its replica
// are refused their first commands (CLUSTERDOWN, which names no node): they exit
// naming the node that is gone and what the others say.
func TestServeNamesTheClusterNodesThatFail(t *testing.T) {
	t.Setenv("FAULT_API", "http://127.0.0.1:1") // no step runs
	dir := testutil.WriteRelay(t)
	b := redistest.NewCluster(t, time.Second)
	ctx := context.Background()
	primary, err := b.Cluster.PrimaryOf(ctx, engine.ShardPrefix("any", b.Shards))
	if err != nil {
		t.Fatal(err)
	}
	replica, err := b.Cluster.ReplicaOf(ctx, primary)
	if err != nil {
		t.Fatal(err)
	}
	b.Cluster.Kill(primary)
	b.Cluster.Kill(replica)
	var live string
	for _, addr := range b.Cluster.Addrs {
		if addr != primary && addr != replica {
			live = addr
			break
		}
	}
	node := b.Cluster.Node(t, live)
	testutil.Eventually(t, 15*time.Second, "the cluster says it is down", func() bool {
		info, err := node.ClusterInfo(ctx).Result()
		return err == nil && strings.Contains(info, "cluster_state:fail")
	})
	for _, args := range [][]string{
		{"serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--redis", "redis://:hunter2-secret@" + live, dir},
		{"worker", "--redis", "redis://:hunter2-secret@" + live, dir},
	} {
		t.Run(args[0], func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(ctx, args, nil, io.Discard, &stderr)
			if code := exitStatus(err, &stderr); code != 3 {
				t.Errorf("exit status %d (%v), want 3", code, err)
			}
			out := stderr.String()
			for _, want := range []string{"primary " + primary + " is unreachable (dial tcp " + primary + ": connect: connection refused)",
				"primary " + live} {
				if !strings.Contains(out, want) {
					t.Errorf("stderr does not say %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "hunter2") {
				t.Errorf("stderr says the password:\n%s", out)
			}
			t.Logf("%s", out)
		})
	}
}

// serve started while its Redis is down (restarted with it) waits for it: a Redis
// listening within 5 s is one it serves with.
func TestServeWaitsForARedisComingBack(t *testing.T) {
	t.Setenv("FAULT_API", "http://127.0.0.1:1") // no step runs
	dir := testutil.WriteRelay(t)
	b := redistest.Real(t)
	b.Stop()
	admin := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--admin", admin, "--redis", b.URL, dir},
			nil, io.Discard, io.Discard)
	}()
	time.Sleep(1500 * time.Millisecond) // serve has found nothing listening by now
	b.Restart()
	testutil.Eventually(t, 15*time.Second, "serve answers", func() bool {
		select {
		case err := <-done:
			t.Fatalf("serve ended before Redis came back: %v", err)
		default:
		}
		resp, err := http.Get("http://" + admin + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// A server that says it is no cluster, then answers MOVED, is a cluster node after all:
// serve exits 1 saying so (waiting does not mend it), not 3.
func TestServeExits1WhenASingleRedisAnswersMoved(t *testing.T) {
	url := fakeRedis(t, func(args []string) string {
		switch strings.ToUpper(args[0]) {
		case "INFO":
			info := "# Cluster\r\ncluster_enabled:0\r\n"
			return fmt.Sprintf("$%d\r\n%s\r\n", len(info), info)
		case "PING":
			return "+PONG\r\n"
		case "HELLO", "CLIENT":
			return "-ERR unknown command\r\n"
		default:
			return "-MOVED 14067 127.0.0.1:1\r\n"
		}
	})
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.hcl"), hookSrc("a"))
	var logs bytes.Buffer
	s, err := startServer(context.Background(), serveConfig{dir: dir, listen: "127.0.0.1:0", admin: "127.0.0.1:0",
		redisURL: url, workers: 2, allowNet: loopback}, slog.New(slog.NewTextHandler(&logs, nil)), &logs)
	if err == nil {
		s.shutdown()
		t.Fatal("serve started on a Redis that answers MOVED")
	}
	var stderr bytes.Buffer
	if code := exitStatus(err, &stderr); code != exitFailed {
		t.Errorf("exit status %d, want %d: %s", code, exitFailed, stderr.String())
	}
	for _, want := range []string{"this Redis is a cluster node", "hf:shards: MOVED 14067", "CLUSTER INFO"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("the error does not say %q: %s", want, stderr.String())
		}
	}
}
