// Package id makes identifiers for events and runs.
package id

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"time"
)

const alphabet = "0123456789abcdefghjkmnpqrstvwxyz" // Crockford's base32, lower case

// New returns a 26-character identifier that sorts by creation time: 48 bits of Unix
// milliseconds followed by 80 random bits, in Crockford base32 (the layout of a ULID).
func New() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	_, _ = rand.Read(b[6:]) // never fails on supported platforms
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	var out [26]byte
	// 128 bits as 26 five-bit digits: the first digit holds the top 3 bits.
	for i := 25; i >= 0; i-- {
		out[i] = alphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// Normalize writes the id a run's id (or a child's, a dead letter's, <id>:…) starts
// with as New writes it, in lower case: an id copied in upper case, as ULIDs often are,
// names the same run. Anything else is left as it is.
func Normalize(s string) string {
	if len(s) < 26 || (len(s) > 26 && s[26] != ':') {
		return s
	}
	head := strings.ToLower(s[:26])
	if strings.Trim(head, alphabet) != "" || head == s[:26] {
		return s
	}
	return head + s[26:]
}
