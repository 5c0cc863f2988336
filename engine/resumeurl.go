package engine

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// A resume URL is Options.ResumeBase and a token (the public listener serves them under
// /resume/: triggers.Resumes). Its token names the workflow, the run
// and the wait step, and signs them with a key that every process sharing the Redis
// reads from it: any process can check a token, a token cannot be made without the
// key, and it stays valid across restarts. The workflow in the token finds the run's
// shard without a look in every shard.

// resumeKeyName holds the key resume tokens are signed with. It lives outside the
// shards: scripts never read it.
const resumeKeyName = "hf:resume-key"

// DefaultResumeBase is the base of resume URLs when Options.ResumeBase is not set:
// the public listener's default address.
const DefaultResumeBase = "http://localhost:8080/resume/"

// macLen is how many bytes of the HMAC-SHA256 a token keeps: 128 bits.
const macLen = 16

// resumeKeys loads the signing key once it is needed, and keeps it.
type resumeKeys struct {
	mu  sync.Mutex
	key []byte
}

// resumeKey returns the key resume tokens are signed with. The first process that
// needs one stores a random key in Redis; the others read it.
func (e *Engine) resumeKey(ctx context.Context) ([]byte, error) {
	e.keys.mu.Lock()
	defer e.keys.mu.Unlock()
	if e.keys.key != nil {
		return e.keys.key, nil
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	if err := e.q.rdb.SetNX(ctx, resumeKeyName, hex.EncodeToString(b[:]), 0).Err(); err != nil {
		return nil, fmt.Errorf("storing the resume key: %w", err)
	}
	s, err := e.q.rdb.Get(ctx, resumeKeyName).Result()
	if err != nil {
		return nil, fmt.Errorf("reading the resume key: %w", err)
	}
	key, err := hex.DecodeString(s)
	if err != nil || len(key) < 16 {
		return nil, fmt.Errorf("%s does not hold a resume key", resumeKeyName)
	}
	e.keys.key = key
	return key, nil
}

// waitRef is a wait step of a run, as a resume token names it.
type waitRef struct {
	workflow, run, step string
}

func sign(key []byte, payload string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(payload))
	return m.Sum(nil)[:macLen]
}

// token is the resume token of a wait step.
func (w waitRef) token(key []byte) string {
	payload := w.workflow + "\n" + w.run + "\n" + w.step
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(sign(key, payload))
}

// errBadToken is a token that was not made with the key: it names no wait.
var errBadToken = errors.New("not a resume token")

// parseToken checks a token's signature and reads the wait it names.
func parseToken(key []byte, token string) (waitRef, error) {
	enc := base64.RawURLEncoding
	p, m, ok := strings.Cut(token, ".")
	payload, err1 := enc.DecodeString(p)
	mac, err2 := enc.DecodeString(m)
	if !ok || err1 != nil || err2 != nil || !hmac.Equal(mac, sign(key, string(payload))) {
		return waitRef{}, errBadToken
	}
	parts := strings.Split(string(payload), "\n")
	if len(parts) != 3 {
		return waitRef{}, errBadToken
	}
	return waitRef{workflow: parts[0], run: parts[1], step: parts[2]}, nil
}

// ResumeURL is the URL that resumes the wait step of run, a run of workflow: what
// resume_url("STEP") gives.
func (e *Engine) ResumeURL(ctx context.Context, workflow, run, step string) (string, error) {
	key, err := e.resumeKey(ctx)
	if err != nil {
		return "", err
	}
	return e.resumeBase + waitRef{workflow, run, step}.token(key), nil
}

// resumeURLs is resume_url for the steps of run r.
func (e *Engine) resumeURLs(r *runState) func(string) (string, error) {
	return func(step string) (string, error) {
		if s, _ := r.wf.Step(step); s == nil || !isWait(s) {
			return "", fmt.Errorf("resume_url(%q): workflow %s has no wait step %s", step, r.workflow, step)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return e.ResumeURL(ctx, r.workflow, r.id, step)
	}
}

// isWait reports whether s is a wait step.
func isWait(s *workflows.Step) bool {
	_, ok := s.Action.(workflows.Waiter)
	return ok
}

// hasWait reports whether wf has a wait step.
func hasWait(wf *workflows.Workflow) bool {
	for _, s := range wf.Steps {
		if isWait(s) {
			return true
		}
	}
	return false
}

// redactedMAC takes the place of a resume token's signature in what RedactResumeTokens
// returns.
const redactedMAC = "[redacted]"

// tokenRun matches the runs of characters a token may sit in: its two base64url parts
// and the dot between them.
var tokenRun = regexp.MustCompile(`[A-Za-z0-9_.-]{24,}`)

// RedactResumeTokens replaces the signature of every resume token in data by
// [redacted]: what is left still names the run and the step, but resumes nothing. It
// finds a token wherever a resume URL was written (in a JSON string, an HTML page, a
// form or a URL's query, percent-encoded once or twice) by its shape: a base64url
// payload of a workflow's name, a run's id and a step's name, each on its line, then a
// dot and the signature. A signature cut short where the text was cut (a list's
// column, a recorded body's limit) ends the run of characters it is in; it is redacted
// too, as it would show most of the way to the whole. It does not need the key, so it
// finds tokens of any run, and of any resume base.
func RedactResumeTokens(data []byte) []byte {
	return tokenRun.ReplaceAllFunc(data, func(run []byte) []byte {
		parts := bytes.Split(run, []byte("."))
		sigs := make([]bool, len(parts)) // decided on the parts as found, before any is changed
		for i := 1; i < len(parts); i++ {
			whole := isTokenMAC(parts[i])
			cut := i == len(parts)-1 && len(parts[i]) > 0 && len(parts[i]) < macChars
			sigs[i] = !sigs[i-1] && (whole || cut) && isTokenPayload(parts[i-1])
		}
		if !slices.Contains(sigs, true) {
			return run
		}
		for i, sig := range sigs {
			if sig {
				parts[i] = []byte(redactedMAC)
			}
		}
		return bytes.Join(parts, []byte("."))
	})
}

// macChars is the length of a token's signature in base64url.
var macChars = base64.RawURLEncoding.EncodedLen(macLen)

// isTokenMAC reports whether b is a token's signature: macLen bytes in base64url.
func isTokenMAC(b []byte) bool {
	if len(b) != macChars {
		return false
	}
	_, err := base64.RawURLEncoding.Decode(make([]byte, macLen+2), b)
	return err == nil
}

// maxTokenLead is how many characters may stand between where a run of base64url
// characters begins and where a token's payload does: "2F" of a "/" percent-encoded
// before it, "252F" of one encoded twice.
const maxTokenLead = 8

// tokenName and tokenRunID are what a token's payload names: a workflow or a step
// (on_failure/NAME for a step of on_failure), and a run (a child run's id is its
// parent step's job, with ':').
var (
	tokenName  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)?$`)
	tokenRunID = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z:_-]*$`)
)

// isTokenPayload reports whether b ends with a token's payload: the workflow, the run
// and the step, each on its line, in base64url.
func isTokenPayload(b []byte) bool {
	for lead := 0; lead <= maxTokenLead && lead < len(b); lead++ {
		payload, err := base64.RawURLEncoding.DecodeString(string(b[lead:]))
		if err != nil {
			continue
		}
		parts := strings.Split(string(payload), "\n")
		if len(parts) == 3 && tokenName.MatchString(parts[0]) && tokenRunID.MatchString(parts[1]) &&
			tokenName.MatchString(parts[2]) {
			return true
		}
	}
	return false
}
