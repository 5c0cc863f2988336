package triggers

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hookflow/hookflow/workflows"
)

// Webhooks sharing a path receive the same requests, so they must verify them alike:
// with the same preset and the same effective settings, defaults filled in, and
// secrets compared as a set (their order and repeats do not matter). A verifier's
// settings say so; verifyDifference names what differs.

// setting is one effective setting of a verifier.
type setting struct {
	value      string // as a message shows it; a digest for a credential
	credential bool   // never shown
}

// credentialSet is a digest of credentials taken as a set: equal for the same
// credentials in any order, repeated or not.
func credentialSet(values []string) setting {
	sorted := slices.Compact(slices.Sorted(slices.Values(values)))
	sum := sha256.Sum256([]byte(strings.Join(sorted, "\x00")))
	return setting{value: fmt.Sprintf("%x", sum[:16]), credential: true}
}

func plain(v string) setting { return setting{value: v} }

func (s *hmacScheme) settings() map[string]setting {
	return map[string]setting{"header": plain(s.header), "prefix": plain(fmt.Sprintf("%q", s.prefix)), "algorithm": plain(s.algorithm),
		"encoding": plain(s.encoding), "secrets": credentialSet(s.secrets)}
}

func (s *stripeScheme) settings() map[string]setting {
	return map[string]setting{"secrets": credentialSet(s.secrets), "tolerance": plain(workflows.FormatDuration(s.tolerance))}
}

func (s *slackScheme) settings() map[string]setting {
	return map[string]setting{"secrets": credentialSet(s.secrets), "tolerance": plain(workflows.FormatDuration(s.tolerance))}
}

// settings of the standard preset compare its keys, as decoded: "whsec_…" and the
// same key without the prefix are one secret.
func (s *standardScheme) settings() map[string]setting {
	keys := make([]string, len(s.keys))
	for i, k := range s.keys {
		keys[i] = string(k)
	}
	return map[string]setting{"secrets": credentialSet(keys), "tolerance": plain(workflows.FormatDuration(s.tolerance))}
}

func (s *basicScheme) settings() map[string]setting {
	return map[string]setting{"username": plain(fmt.Sprintf("%q", s.user)), "password": credentialSet(s.passwords)}
}

func (s *bearerScheme) settings() map[string]setting {
	return map[string]setting{"tokens": credentialSet(s.tokens)}
}

// settingsDiffer lists how verifier a's settings differ from b's, of the same preset:
// "tolerance is 10m here and 5m there", or "the secrets differ" for credentials,
// whose values it never shows. None when they verify alike.
func settingsDiffer(a, b verifier) []string {
	mine, theirs := a.settings(), b.settings()
	var differ []string
	for _, name := range slices.Sorted(maps.Keys(mine)) {
		here, there := mine[name], theirs[name]
		switch {
		case here == there:
		case here.credential:
			differ = append(differ, "the "+name+" differ")
		default:
			differ = append(differ, fmt.Sprintf("%s is %s here and %s there", name, here.value, there.value))
		}
	}
	return differ
}
