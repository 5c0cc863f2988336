package admin

import (
	"bytes"
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/hookflow/hookflow/workflows"
)

// A bidirectional formatting character in a run's values (a webhook's path, its body)
// is shown as its escape, set apart, on every page that shows the value: raw, U+202E
// would show "abc\u202egnp.exe" as "abcexe.png", the rest of its line reversed.
func TestInspectorShowsBidiCharacters(t *testing.T) {
	e, set, _ := serveAPI(t, `
workflow "hook" {
  trigger "webhook" {
    path = "/xss/{name}"
  }
  step "log" "l" {
    message = "got {{ event.body.rtl }}"
  }
}
`)
	srv := httptest.NewServer(Inspector(e, func() *workflows.Set { return set }, nil, PageOptions{WebhookBase: "http://hooks.example"}, quiet))
	defer srv.Close()
	id, err := e.Start(context.Background(), set.Workflow("hook"), &workflows.Event{ID: "e-rtl", Trigger: "webhook",
		Method: "POST", Path: "/xss/rtl\u202ex", ReceivedAt: time.Now(), ContentType: "application/json",
		Raw: `{"rtl":"abc\u202egnp.exe", "marks": "\u200f\u2066\u061c"}`, Headers: map[string]string{"Content-Type": "application/json"}})
	if err != nil {
		t.Fatal(err)
	}
	shown := `<span class="bidi" title="U+202E RIGHT-TO-LEFT OVERRIDE">\u202e</span>`
	page := fetchPage(t, srv.URL+"/runs/"+id)
	for _, want := range []string{"rtl" + shown + "x", "abc" + shown + "gnp.exe",
		`<span class="bidi" title="U+200F RIGHT-TO-LEFT MARK">\u200f</span><span class="bidi" title="U+2066 LEFT-TO-RIGHT ISOLATE">\u2066</span><span class="bidi" title="U+061C ARABIC LETTER MARK">\u061c</span>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the run's page does not show %s:\n%s", want, page)
		}
	}
	for _, p := range []string{page, fetchPage(t, srv.URL+"/"), fetchPage(t, srv.URL+"/?q=e-rtl")} {
		for r := range bidiNames {
			if strings.ContainsRune(p, r) {
				t.Errorf("a page holds %U raw:\n%s", r, p)
			}
		}
	}
}

// bidiNames name Unicode's Bidi_Control characters, no more and no less.
func TestBidiNamesAreBidiControl(t *testing.T) {
	n := 0
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if unicode.Is(unicode.Bidi_Control, r) {
			n++
			if _, ok := bidiNames[r]; !ok {
				t.Errorf("%U has no name", r)
			}
			if b := string(r)[0]; b != 0xd8 && b != 0xe2 {
				t.Errorf("%U starts with %#x, which the writer does not look at", r, b)
			}
		}
	}
	if n != len(bidiNames) {
		t.Errorf("%d names for %d characters", len(bidiNames), n)
	}
}

// A search for a text holding a bidirectional formatting character gives it back in
// the search field as it is, so that sending the form again searches for it, not for
// its escape; elsewhere on the page it is shown as its escape.
func TestInspectorSearchKeepsBidiCharacters(t *testing.T) {
	e, set, _ := serveAPI(t, `
workflow "hook" {
  trigger "webhook" {
    path = "/in"
  }
  step "log" "l" {
    message = "hi"
  }
}
`)
	srv := httptest.NewServer(Inspector(e, func() *workflows.Set { return set }, nil, PageOptions{WebhookBase: "http://hooks.example"}, quiet))
	defer srv.Close()
	page := fetchPage(t, srv.URL+"/?q="+url.QueryEscape("abc\u202egnp"))
	field := `value="abc` + "\u202e" + `gnp"`
	if !strings.Contains(page, field) {
		t.Fatalf("the search field does not hold the query as it is:\n%s", page)
	}
	rest := strings.Replace(page, field, "", 1)
	for r := range bidiNames {
		if strings.ContainsRune(rest, r) {
			t.Errorf("the page holds %U raw outside the search field:\n%s", r, rest)
		}
	}
}

// The writer shows each bidirectional formatting character, however the page's writes
// cut it, as its escape: set apart in text, alone in a tag's attributes and in the
// title, which take no markup. Other characters pass as they are.
func TestBidiWriter(t *testing.T) {
	const rlo = `<span class="bidi" title="U+202E RIGHT-TO-LEFT OVERRIDE">\u202e</span>`
	for _, c := range []struct{ name, in, want string }{
		{"text", "<p>abc\u202egnp.exe</p>", "<p>abc" + rlo + "gnp.exe</p>"},
		{"an attribute", `<button data-confirm="Resume ` + "\u202e" + `x?">go</button>`, `<button data-confirm="Resume \u202ex?">go</button>`},
		{"the title", "<title>run \u2067x</title><p>\u2067</p>",
			`<title>run \u2067x</title><p><span class="bidi" title="U+2067 RIGHT-TO-LEFT ISOLATE">\u2067</span></p>`},
		{"other characters", "<p>é ü € 日本 \u2028 \u00a0 \u200b</p>", "<p>é ü € 日本 \u2028 \u00a0 \u200b</p>"},
		// A form sends a value attribute back as the page holds it.
		{"an input's value", `<input name="q" type="search" value="abc` + "\u202e" + `gnp" placeholder="x` + "\u202e" + `">`,
			`<input name="q" type="search" value="abc` + "\u202e" + `gnp" placeholder="x\u202e">`},
		{"an option's value", `<option value='a` + "\u202e" + `b' selected>a` + "\u202e" + `b</option>`,
			`<option value='a` + "\u202e" + `b' selected>a` + rlo + `b</option>`},
		{"an unquoted value", `<input value=a` + "\u202e" + `b data-value=c` + "\u202e" + `d>`, `<input value=a` + "\u202e" + `b data-value=c\u202ed>`},
		{"another attribute named like value", `<p data-value="a` + "\u202e" + `b" title=value>c` + "\u202e" + `</p>`,
			`<p data-value="a\u202eb" title=value>c` + rlo + `</p>`},
		{"an attribute after a bare one", `<input disabled value="a` + "\u202e" + `b">`, `<input disabled value="a` + "\u202e" + `b">`},
		// Code is no text shown, and a textarea's text is a value.
		{"script", `<SCRIPT>if (a<b) s = "` + "\u202e" + `"</script ><p>` + "\u202e" + `</p>`,
			`<SCRIPT>if (a<b) s = "` + "\u202e" + `"</script ><p>` + rlo + `</p>`},
		{"style and textarea", `<style>p::after{content:"` + "\u202e" + `"}</style><textarea name=t>a` + "\u202e" + `b</textarea>` + "\u202e",
			`<style>p::after{content:"` + "\u202e" + `"}</style><textarea name=t>a` + "\u202e" + `b</textarea>` + rlo},
		{"the last bytes of a page", "<p>\xe2\x80", "<p>\xe2\x80"},
		{"invalid UTF-8", "<p>\xe2\x28\xa1 \xd8</p>", "<p>\xe2\x28\xa1 \xd8</p>"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, step := range []int{len(c.in), 1, 2} {
				var out bytes.Buffer
				w := newBidiWriter(&out)
				for in := []byte(c.in); len(in) > 0; {
					n := min(step, len(in))
					if k, err := w.Write(in[:n]); k != n || err != nil {
						t.Fatalf("wrote %d of %d: %v", k, n, err)
					}
					in = in[n:]
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				if out.String() != c.want {
					t.Errorf("written %d bytes at a time:\n got %q\nwant %q", step, out.String(), c.want)
				}
			}
		})
	}
}
