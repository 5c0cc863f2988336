package main

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/hookflow/hookflow/workflows"
)

// newFlagSet returns a flag set for a subcommand whose errors and help go to stderr.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: hookflow %s\n\nFlags (each also read from HOOKFLOW_<FLAG>):\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, then gives every flag the command line did not set its value
// from the environment, if there: --allow-net from HOOKFLOW_ALLOW_NET, and so on.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitError(0)
		}
		return errUsage
	}
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := "HOOKFLOW_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v, ok := os.LookupEnv(name)
		if !ok || onCommandLine[f.Name] || err != nil {
			return
		}
		for _, part := range splitList(f, v) {
			if e := f.Value.Set(part); e != nil {
				err = fmt.Errorf("%s=%q: %v", name, v, e)
			}
		}
	})
	if err != nil {
		fmt.Fprintln(fs.Output(), err)
		return errUsage
	}
	return nil
}

// parseDirArgs parses the flags of a command that takes at most one directory, and
// sets dir to it when given.
func parseDirArgs(fs *flag.FlagSet, args []string, dir *string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch fs.NArg() {
	case 0:
	case 1:
		*dir = fs.Arg(0)
	default:
		fs.Usage()
		return errUsage
	}
	return nil
}

// splitList splits the environment value of a repeatable flag at commas.
func splitList(f *flag.Flag, v string) []string {
	if _, ok := f.Value.(*prefixList); ok {
		return strings.Split(v, ",")
	}
	return []string{v}
}

// prefixList is a repeatable flag of CIDR prefixes (or single addresses).
type prefixList []netip.Prefix

func (p *prefixList) String() string {
	parts := make([]string, len(*p))
	for i, x := range *p {
		parts[i] = x.String()
	}
	return strings.Join(parts, ",")
}

func (p *prefixList) Set(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("%q is not an address or CIDR prefix", s)
		}
		*p = append(*p, netip.PrefixFrom(a, a.BitLen()))
		return nil
	}
	prefix, err := netip.ParsePrefix(s)
	if err != nil {
		return fmt.Errorf("%q is not a CIDR prefix such as 10.0.0.0/8", s)
	}
	*p = append(*p, prefix.Masked())
	return nil
}

// days is a duration flag that also takes days: "7d", "1d12h".
type days time.Duration

func (d *days) String() string {
	v := time.Duration(*d)
	if v > 0 && v%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", v/(24*time.Hour))
	}
	return v.String()
}

func (d *days) Set(s string) error {
	v, err := workflows.ParseDuration(s)
	if err != nil {
		return err
	}
	if v < time.Second {
		return fmt.Errorf("%q: must be at least 1s", s)
	}
	*d = days(v)
	return nil
}
