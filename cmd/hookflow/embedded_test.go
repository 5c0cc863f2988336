package main

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// serve's embedded Redis has no port: nothing but serve itself reaches the runs it
// holds.
func TestEmbeddedRedisListensNowhere(t *testing.T) {
	before := listening(t)
	rdb, _, closeRedis, err := openRedis(context.Background(), "", redisTLS{}, 4, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer closeRedis()
	if err := rdb.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for addr := range listening(t) {
		if !before[addr] {
			t.Errorf("the embedded Redis listens on %s", addr)
		}
	}
}

// The embedded Redis has no address to look up: opening and using it sends no DNS
// query (`hookflow test` promises nothing leaves the machine, and a resolver that
// never answers held each start for 2 s). It swaps the process's resolver for one
// that records every query, so it does not run in parallel.
func TestEmbeddedRedisLooksUpNoName(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	saved := net.DefaultResolver
	net.DefaultResolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		mu.Lock()
		asked = append(asked, network+" "+address)
		mu.Unlock()
		return nil, errors.New("no DNS here")
	}}
	t.Cleanup(func() { net.DefaultResolver = saved })
	rdb, _, closeRedis, err := openRedis(context.Background(), "", redisTLS{}, 4, discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	closeRedis()
	mu.Lock()
	defer mu.Unlock()
	if len(asked) > 0 {
		t.Errorf("opening the embedded Redis asked DNS servers %q", asked)
	}
}

// listening is the local addresses (hex, as /proc/net/tcp gives them) of this process's
// listening TCP sockets.
func listening(t *testing.T) map[string]bool {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no /proc here: %v", err)
		}
		t.Skipf("no /proc here: %v", err)
	}
	own := make(map[string]bool)
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, "socket:[") {
			own[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	out := make(map[string]bool)
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue // no IPv6 here
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) > 9 && fields[3] == "0A" && own[fields[9]] {
				out[fields[1]] = true
			}
		}
		f.Close()
	}
	return out
}
