package workflows

import "testing"

func TestEscapeTarget(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"nothing to escape", "https://api.example.com/a/b?c=d&e=f+g#h", "https://api.example.com/a/b?c=d&e=f+g#h"},
		{"space in the path and the query", "https://h/a b?c=d e", "https://h/a%20b?c=d%20e"},
		{"non-ASCII", "https://h/é?q=a\u00a0b", "https://h/%C3%A9?q=a%C2%A0b"},
		{"marks", "https://h/?q=\"<>\\^`{|}", "https://h/?q=%22%3C%3E%5C%5E%60%7B%7C%7D"},
		{"what a link may hold, as it came", "https://h/a%2Fb;v=1?x[0]=it's&y=%zz&z=100%&w=a:b@c/d?e", "https://h/a%2Fb;v=1?x[0]=it's&y=%zz&z=100%&w=a:b@c/d?e"},
		{"the authority is left to the parser", "https://u ser@h ost:1/p q", "https://u ser@h ost:1/p%20q"},
		{"an authority alone", "http://h é", "http://h é"},
		{"an authority and a query", "http://h?q=a b", "http://h?q=a%20b"},
		{"relative", "/a b?q=c d", "/a%20b?q=c%20d"},
		{"relative without a slash", "a b", "a%20b"},
		{"network-path reference", "//h x/a b", "//h x/a%20b"},
		{"controls left for the parser to refuse", "https://h/?q=a\nb\x7f", "https://h/?q=a\nb\x7f"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := EscapeTarget(tt.in); got != tt.want {
				t.Errorf("EscapeTarget(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
