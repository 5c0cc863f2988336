package workflows

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func TestFunctions(t *testing.T) {
	tests := map[string]any{
		`urlEncode("a b&c=d/é")`: "a+b%26c%3Dd%2F%C3%A9",
		`urlDecode("a+b%26c")`:   "a b&c",
		`md5("abc")`:             "900150983cd24fb0d6963f7d28e17f72",
		`sha1("abc")`:            "a9993e364706816aba3e25717850c26c9cd0d89d",
		`sha256("abc")`:          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		`hmac("sha256", "It's a Secret to Everybody", "Hello, World!")`: "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
		`hmacBase64("sha256", "shop-secret", '{"id":1}')`:               "plW8VGqq0nDMIEhDqaNNW99asdUCy7EIqLZVcQwtAZ0=",
		`toBase64("hi")`: "aGk=",
	}
	for src, want := range tests {
		got, err := compileT(t, "{{ "+src+" }}").Render(&Env{})
		if err != nil || got != want {
			t.Errorf("%s = %v, %v; want %v", src, got, err, want)
		}
	}
	u, _ := compileT(t, "{{ uuid() }}").Render(&Env{})
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(u.(string)) {
		t.Errorf("uuid() = %v", u)
	}
	env := &Env{Event: map[string]any{"body": map[string]any{"alg": "md4"}}}
	if _, err := compileT(t, `{{ hmac(event.body.alg, "k", "m") }}`).Render(env); err == nil ||
		!strings.Contains(err.Error(), `hmac: algorithm "md4" is not "sha1", "sha256" or "sha512"`) {
		t.Errorf("an unknown hmac algorithm should fail when it runs: %v", err)
	}
	if _, diags := compileTemplate("{{ sha256(42) }}", location{}); !diags.HasErrors() {
		t.Error("a wrongly typed argument should fail at load time")
	}
}

// An algorithm hmac does not take, written as a constant, is an error when the file
// loads, at the argument, as a wrong type is; one read from the event fails the run.
func TestHMACAlgorithmAtLoad(t *testing.T) {
	tests := []struct {
		value  string // of x = "…", whose value starts at column 6
		detail string // the error's, "" for none
		col    int
	}{
		{`{{ hmac('md5', 'k', event.raw) }}`, `hmac signs with the algorithm "sha1", "sha256" or "sha512", named by its first argument; "md5" is none of them.`, 14},
		{`sig={{ hmacBase64('SHA256', 'k', event.raw) }}`, `Did you mean "sha256"?`, 24},
		{`{{ hmac('sha265', 'k', event.raw) }}`, `Did you mean "sha256"?`, 14},
		{`{{ hmac('sha512', 'k', event.raw) }}`, "", 0},
		{`{{ hmac(event.body.alg, 'k', event.raw) }}`, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			src := []byte(`x = "` + tt.value + `"`)
			rng := hcl.Range{Filename: "f.hcl", Start: hcl.Pos{Line: 1, Column: 5, Byte: 4},
				End: hcl.Pos{Line: 1, Column: len(src) + 1, Byte: len(src)}}
			_, diags := compileTemplate(tt.value, location{rng: rng, src: src})
			if tt.detail == "" {
				if diags.HasErrors() {
					t.Fatal(diags.Error())
				}
				return
			}
			if len(diags) != 1 || !strings.HasPrefix(diags[0].Summary, "Unknown hmac") && !strings.HasPrefix(diags[0].Summary, "Unknown hmacBase64") ||
				!strings.Contains(diags[0].Detail, tt.detail) {
				t.Fatalf("got %s, want one error that says %s", diags.Error(), tt.detail)
			}
			if c := diags[0].Subject.Start.Column; c != tt.col {
				t.Errorf("at column %d, want %d", c, tt.col)
			}
		})
	}
	// A condition's too.
	if _, diags := compileCondition(`hmac('md5', 'k', event.raw) == event.headers.sig`, location{}); !diags.HasErrors() {
		t.Error("a condition with hmac('md5', …) loads")
	}
}
