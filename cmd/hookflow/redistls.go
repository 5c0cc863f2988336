package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
)

// redisTLS is the files of --redis-tls-ca, --redis-tls-cert and --redis-tls-key: the
// certificate authority a rediss:// server's certificate is checked against, and the
// certificate and key hookflow presents to a server that asks for one (Redis's
// default, tls-auth-clients yes). They are flags, not options of the URL, as --redis
// has no option of hookflow's own but ?addr=: they name files, which are no secret,
// and read from HOOKFLOW_REDIS_TLS_CA and the others beside HOOKFLOW_REDIS or
// HOOKFLOW_REDIS_FILE, and a URL kept in a secret store need not change where they
// are mounted.
type redisTLS struct {
	ca, cert, key string
}

// redisConnFlags adds --redis-file and the --redis-tls-* flags, which every command
// taking --redis takes.
func redisConnFlags(fs *pflag.FlagSet, file *string, t *redisTLS) {
	fs.StringVar(file, "redis-file", "", "read the Redis URL from this `file`, so that its password is not on the command line")
	fs.StringVar(&t.ca, "redis-tls-ca", "", "PEM `file` of the certificate authorities a rediss:// server's certificate is checked against, instead of the system's")
	fs.StringVar(&t.cert, "redis-tls-cert", "", "PEM `file` of the client certificate presented to a rediss:// server (with --redis-tls-key)")
	fs.StringVar(&t.key, "redis-tls-key", "", "PEM `file` of the private key of --redis-tls-cert")
}

// redisURLOf is the Redis URL: given, or read from file (--redis-file); not both.
func redisURLOf(given, file string) (string, error) {
	if file == "" {
		return given, nil
	}
	if given != "" {
		return "", usage("--redis and --redis-file: give one")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", badFlag("redis-file", ": %s", fileError(file, err))
	}
	url := strings.TrimSpace(string(data))
	if url == "" {
		return "", badFlag("redis-file", ": %s is empty", file)
	}
	return url, nil
}

// fileError says why --redis-file could not be read (open FILE: no such file or
// directory), without quoting a URL given in its place by mistake, whose password it
// would show: a path with "://" or '@' that is no file is said to look like one, and
// named no further.
func fileError(file string, err error) string {
	if strings.Contains(file, "://") || strings.Contains(file, "@") {
		return "takes a file path, and this looks like a URL: give a URL with --redis or HOOKFLOW_REDIS"
	}
	return err.Error()
}

// given reports whether any file was.
func (t redisTLS) given() bool { return t.ca != "" || t.cert != "" || t.key != "" }

// firstFlag is the name of the first flag given, for a message.
func (t redisTLS) firstFlag() string {
	switch {
	case t.ca != "":
		return "redis-tls-ca"
	case t.cert != "":
		return "redis-tls-cert"
	}
	return "redis-tls-key"
}

// apply reads the files into c, the TLS settings of a rediss:// URL; c nil is a URL
// without TLS, which takes none of them. Each file is read once, here, at start.
func (t redisTLS) apply(c *tls.Config, scheme string) error {
	if !t.given() {
		return nil
	}
	if c == nil {
		return badFlag(t.firstFlag(), ": the Redis URL is %s://, without TLS: use %s:// to reach Redis with TLS", scheme, twinScheme(scheme))
	}
	if t.ca != "" {
		pemData, err := os.ReadFile(t.ca)
		if err != nil {
			return badFlag("redis-tls-ca", ": %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemData) {
			return badFlag("redis-tls-ca", ": %s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", t.ca)
		}
		c.RootCAs = pool
	}
	if t.cert == "" && t.key == "" {
		return nil
	}
	if t.cert == "" || t.key == "" {
		return usage("--redis-tls-cert and --redis-tls-key go together: give the client certificate and its key")
	}
	certPEM, err := os.ReadFile(t.cert)
	if err != nil {
		return badFlag("redis-tls-cert", ": %v", err)
	}
	if !holdsPEM(certPEM, func(kind string) bool { return kind == "CERTIFICATE" }) {
		return badFlag("redis-tls-cert", ": %s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", t.cert)
	}
	keyPEM, err := os.ReadFile(t.key)
	if err != nil {
		return badFlag("redis-tls-key", ": %v", err)
	}
	if !holdsPEM(keyPEM, func(kind string) bool { return strings.HasSuffix(kind, "PRIVATE KEY") }) {
		return badFlag("redis-tls-key", ": %s holds no PEM private key (-----BEGIN PRIVATE KEY-----)", t.key)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// crypto/tls says what does not fit ("private key does not match public
		// key"), and never the key.
		return badFlag("redis-tls-key", ": %s does not go with the certificate %s: %v", t.key, t.cert, err)
	}
	c.Certificates = []tls.Certificate{pair}
	return nil
}

// holdsPEM reports whether data holds a PEM block of a kind that want takes.
func holdsPEM(data []byte, want func(kind string) bool) bool {
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return false
		}
		if want(b.Type) {
			return true
		}
	}
}

// warnSkipVerify logs, at start, that the server's certificate is not checked
// (go-redis's ?skip_verify=true): anyone on the way to Redis can pose as it.
func warnSkipVerify(c *tls.Config, log *slog.Logger) {
	if c != nil && c.InsecureSkipVerify {
		log.Warn("the Redis server's TLS certificate is not verified (?skip_verify=true): anyone on the network path to it can pose as it " +
			"and read the password and every run; give its certificate authority with --redis-tls-ca instead")
	}
}

// tlsHint adds to err, why a Redis could not be reached, what it suggests of TLS, when
// it is a symptom of one: a server that closes the connection of a client without TLS
// may want TLS (Redis's TLS port drops what is no handshake), a server that does not
// answer a handshake may not speak it (Redis's plain port waits for the end of a
// command), one may ask for a client certificate, or have one no authority hookflow
// trusts signed. scheme is the URL's.
func tlsHint(err error, scheme string) error {
	withTLS := strings.HasPrefix(scheme, "rediss")
	var unknown x509.UnknownAuthorityError
	var record tls.RecordHeaderError
	var hint string
	switch {
	case err == nil:
		return nil
	case !withTLS && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)):
		hint = "is it a TLS port? use " + twinScheme(scheme) + "://"
	case withTLS && (errors.As(err, new(noAnswer)) || errors.As(err, &record)):
		hint = "does it speak TLS? a port without TLS takes " + twinScheme(scheme) + "://"
	case withTLS && certificateRequired(err):
		hint = "the server asks for a client certificate: give --redis-tls-cert and --redis-tls-key"
	case withTLS && errors.As(err, &unknown):
		hint = "give the certificate authority that signed the server's certificate with --redis-tls-ca"
	default:
		return err
	}
	return &hintedError{err: err, hint: hint}
}

// certificateRequired reports whether err is the server's TLS alert that it requires
// a client certificate. crypto/tls gives a TCP connection's alerts a type of its own,
// in a *net.OpError whose Op is "remote error"; its text is the alert's name.
func certificateRequired(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error" && op.Err != nil && strings.HasSuffix(op.Err.Error(), "certificate required")
}

// twinScheme is scheme with TLS if it has none, and without if it has.
func twinScheme(scheme string) string {
	if rest, ok := strings.CutPrefix(scheme, "rediss"); ok {
		return "redis" + rest
	}
	if rest, ok := strings.CutPrefix(scheme, "redis"); ok {
		return "rediss" + rest
	}
	return "rediss"
}

// hintedError is an error followed by a hint in parentheses.
type hintedError struct {
	err  error
	hint string
}

func (e *hintedError) Error() string { return e.err.Error() + " (" + e.hint + ")" }
func (e *hintedError) Unwrap() error { return e.err }
