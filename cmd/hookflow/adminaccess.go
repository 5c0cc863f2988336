package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/hookflow/hookflow/admin"
)

// minAdminToken is the shortest admin token taken: a token guards every run's events.
const minAdminToken = 16

// accessConfig is how serve protects its admin API.
type accessConfig struct {
	token, tokenFile         string
	readToken, readTokenFile string
	hosts                    []string
	metricsPublic            bool
}

func accessFlags(fs *pflag.FlagSet, c *accessConfig) {
	fs.StringVar(&c.token, "admin-token", "", "operator `token` for the admin API (read and act); with it, every endpoint but /healthz and /readyz needs Authorization: Bearer")
	fs.StringVar(&c.tokenFile, "admin-token-file", "", "read the operator token from this `file`")
	fs.StringVar(&c.readToken, "admin-read-token", "", "read-only `token` for the admin API")
	fs.StringVar(&c.readTokenFile, "admin-read-token-file", "", "read the read-only token from this `file`")
	fs.StringSliceVar(&c.hosts, "admin-host", nil, "a `name` the admin API answers to besides loopback ones, e.g. the name a proxy reaches it by (repeatable)")
	fs.BoolVar(&c.metricsPublic, "metrics-public", false, "serve GET /metrics on the admin address without a token")
}

// access reads the tokens (from their files where given) into the admin API's rules.
func (c accessConfig) access() (admin.Access, error) {
	op, err := tokenOf("admin-token", c.token, c.tokenFile)
	if err != nil {
		return admin.Access{}, err
	}
	read, err := tokenOf("admin-read-token", c.readToken, c.readTokenFile)
	if err != nil {
		return admin.Access{}, err
	}
	if op != "" && op == read {
		return admin.Access{}, usage("--admin-read-token: the same as --admin-token; give each role its own")
	}
	return admin.Access{OperatorToken: op, ReadToken: read, Hosts: c.hosts, MetricsPublic: c.metricsPublic}, nil
}

// tokenOf is the token of flag (its name, without --): value, or read from file.
func tokenOf(flag, value, file string) (string, error) {
	if value != "" && file != "" {
		return "", usage("--%s and --%s-file: give one", flag, flag)
	}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return "", badFlag(flag+"-file", ": %v", err)
		}
		value = strings.TrimSpace(string(data))
		if value == "" {
			return "", badFlag(flag+"-file", ": %s is empty", file)
		}
	}
	if value != "" && len(value) < minAdminToken {
		return "", badFlag(flag, ": at least %d characters (a random one: openssl rand -hex 24)", minAdminToken)
	}
	return value, nil
}

// adminTokenFromEnv is the token the CLI sends to the admin API: HOOKFLOW_ADMIN_TOKEN
// (or the file HOOKFLOW_ADMIN_TOKEN_FILE names), else the read-only one.
func adminTokenFromEnv() (string, error) {
	for _, name := range []string{"HOOKFLOW_ADMIN_TOKEN", "HOOKFLOW_ADMIN_READ_TOKEN"} {
		if v := strings.TrimSpace(os.Getenv(name)); v != "" {
			return v, nil
		}
		if f := os.Getenv(name + "_FILE"); f != "" {
			data, err := os.ReadFile(f)
			if err != nil {
				return "", fmt.Errorf("%s_FILE: %w", name, err)
			}
			return strings.TrimSpace(string(data)), nil
		}
	}
	return "", nil
}
