package workflows

import (
	"reflect"
	"testing"
)

const environSrc = `vars {
  crm     = env("HOOKFLOW_TEST_ENV_CRM", "https://crm.example.com/api")
  wms     = env("HOOKFLOW_TEST_ENV_WMS")
  channel = env("HOOKFLOW_TEST_ENV_CHANNEL", "#orders")
  region  = env("HOOKFLOW_TEST_ENV_REGION", "eu")
}

workflow "orders" {
  trigger "hook" {
    path = "/orders"
  }
  step "call" "push" {
    url     = "${vars.crm}/orders"
    headers = { Authorization = "Bearer ${secret("HOOKFLOW_TEST_ENV_TOKEN")}" }
  }
}
`

// Loaded hermetic, as hookflow test loads, env() reads its default whatever the
// environment holds, and an env() without one or a secret() reads as a placeholder.
// Loaded otherwise, the Set lists what env() read that a test reads otherwise.
func TestHermeticEnv(t *testing.T) {
	t.Setenv("HOOKFLOW_TEST_ENV_CRM", "http://127.0.0.1:18110/crm")
	t.Setenv("HOOKFLOW_TEST_ENV_WMS", "http://127.0.0.1:18111")
	t.Setenv("HOOKFLOW_TEST_ENV_CHANNEL", "#orders") // the default: a test reads the same
	t.Setenv("HOOKFLOW_TEST_ENV_TOKEN", "token-from-the-shell")
	srcs := []Source{{Name: "env.hcl", Data: []byte(environSrc)}}

	set, diags := LoadWith(srcs, testKinds(), Options{Hermetic: true})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	vars := set.Workflow("orders").Vars
	want := map[string]any{"crm": "https://crm.example.com/api", "wms": "https://unset.invalid/HOOKFLOW_TEST_ENV_WMS",
		"channel": "#orders", "region": "eu"}
	if !reflect.DeepEqual(vars, want) {
		t.Errorf("hermetic vars:\n got %v\nwant %v", vars, want)
	}
	if got := set.Workflow("orders").Secrets.String("token-from-the-shell"); got != "token-from-the-shell" {
		t.Errorf("a hermetic load read the secret from the environment: %q", got)
	}
	if len(set.EnvValues()) != 0 {
		t.Errorf("a hermetic load read the environment: %v", set.EnvValues())
	}

	set, diags = Load(srcs, testKinds())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if got := set.Workflow("orders").Vars["crm"]; got != "http://127.0.0.1:18110/crm" {
		t.Errorf("served, env() read %v", got)
	}
	wantEnv := []EnvValue{
		{Name: "HOOKFLOW_TEST_ENV_CRM", Value: "http://127.0.0.1:18110/crm", Test: "https://crm.example.com/api"},
		{Name: "HOOKFLOW_TEST_ENV_WMS", Value: "http://127.0.0.1:18111", Test: "https://unset.invalid/HOOKFLOW_TEST_ENV_WMS"},
	}
	if got := set.EnvValues(); !reflect.DeepEqual(got, wantEnv) {
		t.Errorf("EnvValues:\n got %v\nwant %v", got, wantEnv)
	}
}

// A test file's env() reads what the workflows' env() reads under hookflow test, so
// that a test can write the URL a step builds from it, and passes in every shell.
func TestTestFileEnvIsHermetic(t *testing.T) {
	t.Setenv("HOOKFLOW_TEST_ENV_CRM", "http://127.0.0.1:18110/crm")
	src := `test "t" {
  workflow = "orders"
  expect "push" {
    url = "${env("HOOKFLOW_TEST_ENV_CRM", "https://crm.example.com/api")}/orders"
  }
  expect "push" {
    url = "${env("HOOKFLOW_TEST_ENV_CRM")}/orders"
  }
}
`
	tests, diags := LoadTests([]Source{{Name: "env.test.hcl", Data: []byte(src)}}, nil)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	e := tests[0].Expects
	if *e[0].URL != "https://crm.example.com/api/orders" || *e[1].URL != "https://unset.invalid/HOOKFLOW_TEST_ENV_CRM/orders" {
		t.Errorf("env() in a test file read %q and %q", *e[0].URL, *e[1].URL)
	}
}
