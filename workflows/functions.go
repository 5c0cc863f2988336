package workflows

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
	"github.com/hashicorp/hcl/v2"
)

// functions are hookflow's additions to expr's built-ins (which already include
// toJSON, fromJSON, toBase64, fromBase64, now, date, upper, split, …). Each is typed, so a
// wrong argument is a load-time error.
var functions = append([]expr.Option{
	stringFunc("urlEncode", url.QueryEscape),
	expr.Function("urlDecode", func(p ...any) (any, error) {
		s, err := url.QueryUnescape(p[0].(string))
		if err != nil {
			return nil, fmt.Errorf("urlDecode: %w", err)
		}
		return s, nil
	}, new(func(string) string)),
	digestFunc("md5", md5.New),
	digestFunc("sha1", sha1.New),
	digestFunc("sha256", sha256.New),
	digestFunc("sha512", sha512.New),
	hmacFunc("hmac", hex.EncodeToString),
	hmacFunc("hmacBase64", base64.StdEncoding.EncodeToString),
	expr.Function("uuid", func(...any) (any, error) { return newUUID(), nil }, new(func() string)),
	// string writes a value as a template writes it in text (Text): nil as "", objects
	// and lists as JSON, a time as RFC 3339, where expr's own writes Go's "<nil>",
	// map[a:1] and [1 a].
	expr.Function("string", func(p ...any) (any, error) { return Text(p[0]), nil }, new(func(any) string)),
}, slices.Concat(sortedMapFunctions, pageFunctions)...)

func stringFunc(name string, f func(string) string) expr.Option {
	return expr.Function(name, func(p ...any) (any, error) { return f(p[0].(string)), nil }, new(func(string) string))
}

// digestFunc is a hash of a string, in lower-case hex: sha256("abc").
func digestFunc(name string, h func() hash.Hash) expr.Option {
	return stringFunc(name, func(s string) string {
		d := h()
		d.Write([]byte(s))
		return hex.EncodeToString(d.Sum(nil))
	})
}

var hmacHashes = map[string]func() hash.Hash{"sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New}

// hmacAlgorithms are the names hmac and hmacBase64 take as their first argument, and
// hmacTakes says them.
var hmacAlgorithms = slices.Sorted(maps.Keys(hmacHashes))

const hmacTakes = `"sha1", "sha256" or "sha512"`

// checkArguments reports the arguments of hookflow's functions that are written as
// constants and are none that the function takes, at the argument: hmac('md5', …)
// is an error when the file loads, as a wrong type is, rather than when it runs. src
// is the expression and offset its position in loc's value.
func checkArguments(p *vm.Program, src string, offset int, loc location) hcl.Diagnostics {
	var diags hcl.Diagnostics
	node := p.Node()
	ast.Walk(&node, visitor(func(n ast.Node) {
		c, ok := n.(*ast.CallNode)
		if !ok || len(c.Arguments) == 0 {
			return
		}
		callee, ok := c.Callee.(*ast.IdentifierNode)
		if !ok || callee.Value != "hmac" && callee.Value != "hmacBase64" {
			return
		}
		alg, ok := c.Arguments[0].(*ast.StringNode)
		if !ok || hmacHashes[alg.Value] != nil {
			return
		}
		detail := fmt.Sprintf("%s signs with the algorithm %s, named by its first argument; %q is none of them.",
			callee.Value, hmacTakes, alg.Value)
		if s := suggest(strings.ToLower(alg.Value), hmacAlgorithms); s != "" {
			detail = fmt.Sprintf("%s signs with the algorithm %s, named by its first argument. Did you mean %q?",
				callee.Value, hmacTakes, s)
		}
		at := alg.Location()
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Unknown %s algorithm %q", callee.Value, alg.Value),
			Detail:   detail,
			Subject:  loc.at(offset+runeToByte(src, at.From), offset+runeToByte(src, at.To)).Ptr(),
		})
	}))
	return diags
}

// hmacFunc signs a message: hmac("sha256", key, message).
func hmacFunc(name string, encode func([]byte) string) expr.Option {
	return expr.Function(name, func(p ...any) (any, error) {
		h, ok := hmacHashes[p[0].(string)]
		if !ok {
			return nil, fmt.Errorf(`%s: algorithm %q is not %s`, name, p[0], hmacTakes)
		}
		m := hmac.New(h, []byte(p[1].(string)))
		m.Write([]byte(p[2].(string)))
		return encode(m.Sum(nil)), nil
	}, new(func(string, string, string) string))
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
