package testutil

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
)

// RawRequest sends a request to the HTTP server at addr with its request line as
// written, path and all (Go's client would clean or refuse some paths), a POST with
// an empty JSON object as its body, and returns the status and body answered.
func RawRequest(t testing.TB, addr, method, path string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := ""
	if method == http.MethodPost {
		body = "{}"
	}
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: hookflow\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		method, path, len(body), body)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(got)
}
