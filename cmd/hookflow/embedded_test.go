package main

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// serve's embedded Redis has no port: nothing but serve itself reaches the runs it
// holds.
func TestEmbeddedRedisListensNowhere(t *testing.T) {
	before := listening(t)
	rdb, _, closeRedis, err := openRedis(context.Background(), "", 4, discard)
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
