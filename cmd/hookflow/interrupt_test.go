package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
)

// A command of the admin API that SIGINT or SIGTERM ends (its context cancelled) while
// it waits for an answer says it was interrupted, as run does, with exit status 1: not
// "context canceled", nor that the admin API cannot be reached (3).
func TestAdminCommandsInterrupted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn)
	go func() {
		for {
			c, err := ln.Accept() // and never answered
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"runs", "list"}, "hookflow: runs list: interrupted\n"},
		{[]string{"runs", "show", "r1"}, "hookflow: runs show: interrupted\n"},
		{[]string{"status"}, "hookflow: status: interrupted\n"},
		{[]string{"workflows"}, "hookflow: workflows: interrupted\n"},
		{[]string{"dlq", "list"}, "hookflow: dlq list: interrupted\n"},
	} {
		args := c.args
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			ctx, interrupt := context.WithCancel(context.Background())
			done := make(chan error, 1)
			var stderr bytes.Buffer
			go func() {
				done <- run(ctx, append(args, "--admin", ln.Addr().String()), nil, io.Discard, &stderr)
			}()
			conn := <-accepted // the request is on its way
			defer conn.Close()
			interrupt()
			err := <-done
			if !errors.Is(err, errInterrupted) {
				t.Errorf("error %v, want %v", err, errInterrupted)
			}
			if code := exitStatus(err, &stderr); code != exitFailed {
				t.Errorf("exit status %d, want %d", code, exitFailed)
			}
			if stderr.String() != c.says {
				t.Errorf("stderr %q, want %q", stderr.String(), c.says)
			}
		})
	}
}
