package workflows_test

import (
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/hookflow/hookflow/workflows"
)

// TestStoredVersionWarnsOfLikelyMistakes: a check that catches a likely mistake, not
// what cannot run, refuses a file, but warns in a stored version (Options.Stored), the
// file of runs in flight that an older build accepted; what cannot run still fails.
func TestStoredVersionWarnsOfLikelyMistakes(t *testing.T) {
	const vars = `vars { sink = "https://sink.example.com" }` + "\n"
	tests := []struct {
		name, src, summary string
		fails              bool // in a stored version too
	}{
		{"an unknown var in a template", vars + `workflow "w" {
  step "http" "send" {
    url  = "{{ vars.sink }}"
    json = { region = "{{ vars.region ?? 'eu' }}" }
  }
}`, `Unknown var "region"`, false},
		{"an unknown var in an if", vars + `workflow "w" {
  step "log" "l" {
    if      = "vars.region == 'eu'"
    message = "m"
  }
}`, `Unknown var "region"`, false},
		{"an unknown var in a poll's key", vars + `workflow "w" {
  trigger "poll" {
    every = "1m"
    url   = "https://x.example.com/a"
    items = "response.body"
    key   = "item.id + vars.region"
  }
  step "log" "l" { message = "m" }
}`, `Unknown var "region"`, false},
		{"an unknown field of run", `workflow "w" {
  step "log" "l" { message = "{{ run.idd }}" }
}`, `Unknown field "idd" of run`, false},
		{"an unknown field of each", `workflow "w" {
  step "log" "l" {
    for_each = "event.body.items"
    message  = "{{ each.vaule }}"
  }
}`, `Unknown field "vaule" of each`, false},
		{"run read in the filter", `workflow "w" {
  filter = "run.id != nil"
  step "log" "l" { message = "m" }
}`, "No run in the filter", false},
		{"retry on a wait step", `workflow "w" {
  step "wait" "approval" {
    timeout = "1h"
    retry { attempts = 3 }
  }
}`, "No retry on a wait step", false},
		{"a timeout on a delay step", `workflow "w" {
  step "delay" "d" {
    duration = "5s"
    timeout  = "1s"
  }
}`, "No timeout on a delay step", false},
		{"a timeout on a workflow step", `workflow "w" {
  step "workflow" "call" {
    workflow = "c"
    timeout  = "2s"
  }
}
workflow "c" {
  step "log" "l" { message = "m" }
}`, "No timeout on a workflow step", false},
		{"a paginate items that is no list", `workflow "w" {
  step "http" "h" {
    url = "https://x.example.com/a"
    paginate {
      next  = "response.body.next"
      items = "len(response.body.data)"
    }
  }
}`, "items does not give a list", false},
		{"a delay past the limit", `workflow "w" {
  step "delay" "d" { duration = "400d" }
}`, "Delay too long", false},
		{"a header with a line break", `workflow "w" {
  step "http" "h" {
    url     = "https://x.example.com/a"
    headers = { X-Note = "a\nb" }
  }
}`, "Invalid header value", false},
		{"a header name with a space", `workflow "w" {
  step "respond" "r" {
    headers = { "X Note" = "a" }
  }
}`, "Invalid header name", false},
		{"an api header with a line break", `api "crm" {
  base_url = "https://crm.example.com"
  headers  = { X-Note = "a\nb" }
}
workflow "w" {
  step "http" "h" {
    api = "crm"
    url = "/a"
  }
}`, "Invalid header value", false},
		{"a bearer token with a line break", `api "crm" {
  base_url = "https://crm.example.com"
  auth "bearer" { token = "tok-123456\n" }
}
workflow "w" {
  step "http" "h" {
    api = "crm"
    url = "/a"
  }
}`, "Invalid token", false},
		{"a basic_auth username with a colon", `workflow "w" {
  step "http" "h" {
    url        = "https://x.example.com/a"
    basic_auth = { username = "a:b", password = "{{ event.body.pw }}" }
  }
}`, "Invalid basic_auth username", false},
		{"an api's basic username with a colon", `api "crm" {
  base_url = "https://crm.example.com"
  auth "basic" {
    username = "a:b"
    password = "pw"
  }
}
workflow "w" {
  step "http" "h" {
    api = "crm"
    url = "/a"
  }
}`, "Invalid username", false},
		{"a poll's cursor that reads the item", `workflow "w" {
  trigger "poll" {
    every  = "1m"
    url    = "https://x.example.com/a"
    items  = "response.body"
    key    = "item.id"
    cursor = "item.id"
  }
  step "log" "l" { message = "m" }
}`, "A poll's cursor cannot read item", false},
		{"a trigger of a kind this build lacks", `workflow "w" {
  trigger "queue" { name = "orders" }
  step "log" "l" { message = "m" }
}`, `Unknown trigger kind "queue"`, false},
		{"an unknown step kind", `workflow "w" {
  step "htp" "h" { url = "https://x.example.com/a" }
}`, `Unknown step kind "htp"`, true},
		{"a verify header no request can carry", `workflow "w" {
  trigger "webhook" {
    path = "/w"
    verify "hmac" {
      header = "X-Sig:"
      secrets = ["s3cret-value"]
    }
  }
  step "log" "l" { message = "m" }
}`, "Invalid header name", false},
		{"two headers that differ only in case", `workflow "w" {
  step "http" "h" {
    url     = "https://x.example.com/a"
    headers = { X-Team = "a", x-team = "b" }
  }
}`, "Duplicate header", false},
		{"a byte that is not UTF-8 in a comment", "# caf\xe9\n" + `workflow "w" {
  step "log" "l" { message = "m" }
}`, "File is not UTF-8", false},
		{"a byte that is not UTF-8 in a string", `workflow "w" {
  step "log" "l" { message = "caf` + "\xe9" + `" }
}`, "File is not UTF-8", true},
	}
	k := realKinds()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srcs := []workflows.Source{{Name: "w.hcl", Data: []byte(tt.src)}}
			if _, diags := workflows.Load(srcs, k); !has(diags, hcl.DiagError, tt.summary) {
				t.Fatalf("a file: want the error %q, got %v", tt.summary, diags)
			}
			set, diags := workflows.LoadWith(srcs, k, workflows.Options{Stored: true})
			switch {
			case tt.fails && !has(diags, hcl.DiagError, tt.summary):
				t.Errorf("a stored version: want the error %q, got %v", tt.summary, diags)
			case !tt.fails && (diags.HasErrors() || set.Workflow("w") == nil || !has(diags, hcl.DiagWarning, tt.summary)):
				t.Errorf("a stored version: want it loaded with the warning %q, got %v", tt.summary, diags)
			}
		})
	}
}

// has reports whether diags hold one of severity sev whose summary starts with summary.
func has(diags hcl.Diagnostics, sev hcl.DiagnosticSeverity, summary string) bool {
	for _, d := range diags {
		if d.Severity == sev && len(d.Summary) >= len(summary) && d.Summary[:len(summary)] == summary {
			return true
		}
	}
	return false
}
