package workflows

import (
	"regexp"
	"testing"
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
	if _, err := compileT(t, `{{ hmac("md4", "k", "m") }}`).Render(&Env{}); err == nil {
		t.Error("an unknown hmac algorithm should fail")
	}
	if _, diags := compileTemplate("{{ sha256(42) }}", location{}); !diags.HasErrors() {
		t.Error("a wrongly typed argument should fail at load time")
	}
}
