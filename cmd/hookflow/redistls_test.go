package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookflow/hookflow/internal/redistest"
	"github.com/hookflow/hookflow/internal/testutil"
)

// testPKI is a certificate authority and the certificates it signed, as PEM files.
type testPKI struct {
	ca                    string
	serverCert, serverKey string
	clientCert, clientKey string
	strangerKey           string // a key of no certificate here
	notPEM                string // a file that is no PEM
}

// newTestPKI writes a certificate authority, a server certificate for 127.0.0.1 and
// localhost, and a client certificate, all signed by it, into a directory of the test.
func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	write := func(name, kind string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	newKey := func(name string) (*ecdsa.PrivateKey, string) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return k, write(name, "PRIVATE KEY", der)
	}
	caKey, _ := newKey("ca.key")
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "hookflow test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(name string, serial int64, usage x509.ExtKeyUsage) (cert, key string) {
		k, keyFile := newKey(name + ".key")
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return write(name+".crt", "CERTIFICATE", der), keyFile
	}
	p := testPKI{ca: write("ca.crt", "CERTIFICATE", caDER)}
	p.serverCert, p.serverKey = sign("server", 2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey = sign("client", 3, x509.ExtKeyUsageClientAuth)
	_, p.strangerKey = newKey("stranger.key")
	p.notPEM = filepath.Join(dir, "not.pem")
	if err := os.WriteFile(p.notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A rediss:// URL reaches a Redis that requires a client certificate (Redis's default,
// tls-auth-clients yes) with --redis-tls-ca, --redis-tls-cert and --redis-tls-key; and
// what goes wrong reaching it says what would help.
func TestRedisTLS(t *testing.T) {
	pki := newTestPKI(t)
	b := redistest.TLS(t, redistest.TLSFiles{Cert: pki.serverCert, Key: pki.serverKey, CA: pki.ca})
	plain := strings.TrimPrefix(b.URL, "redis://")
	all := redisTLS{ca: pki.ca, cert: pki.clientCert, key: pki.clientKey}
	ctx := context.Background()

	t.Run("with the CA and a client certificate", func(t *testing.T) {
		rdb, _, closeRedis, err := openRedis(ctx, "rediss://"+b.TLSAddr+"/0", all, 2, discard)
		if err != nil {
			t.Fatal(err)
		}
		defer closeRedis()
		if err := rdb.Set(ctx, "tls", "yes", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if got := b.Client.Get(ctx, "tls").Val(); got != "yes" {
			t.Errorf("the server has %q", got)
		}
	})

	t.Run("skip_verify is warned of", func(t *testing.T) {
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		_, _, closeRedis, err := openRedis(ctx, "rediss://"+b.TLSAddr+"/0?skip_verify=true",
			redisTLS{cert: pki.clientCert, key: pki.clientKey}, 2, log)
		if err != nil {
			t.Fatal(err)
		}
		closeRedis()
		if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "certificate is not verified") {
			t.Errorf("no warning:\n%s", logs.String())
		}
	})

	// The Sentinels are reached with the same files as the primary: this server is
	// no Sentinel, and answering that it knows no SENTINEL command, it shows that the
	// handshake, client certificate and all, went through.
	t.Run("sentinels", func(t *testing.T) {
		_, _, _, err := openRedis(ctx, "rediss+sentinel://"+b.TLSAddr+"/mymaster", all, 2, discard)
		if err == nil || !strings.Contains(err.Error(), "unknown command") {
			t.Errorf("error %v, want the server's answer to SENTINEL", err)
		}
		_, _, _, err = openRedis(ctx, "rediss+sentinel://"+b.TLSAddr+"/mymaster", redisTLS{ca: pki.ca}, 2, discard)
		if err == nil || !strings.Contains(err.Error(), "give --redis-tls-cert and --redis-tls-key") {
			t.Errorf("without a client certificate: %v", err)
		}
	})

	for _, c := range []struct {
		name, url string
		files     redisTLS
		says      []string
	}{
		{"no client certificate", "rediss://" + b.TLSAddr, redisTLS{ca: pki.ca},
			[]string{"certificate required", "give --redis-tls-cert and --redis-tls-key"}},
		{"no CA", "rediss://" + b.TLSAddr, redisTLS{cert: pki.clientCert, key: pki.clientKey},
			[]string{"certificate signed by unknown authority", "with --redis-tls-ca"}},
		{"redis:// to the TLS port", "redis://" + b.TLSAddr, redisTLS{},
			[]string{"is it a TLS port? use rediss://"}},
		{"rediss:// to the port without TLS", "rediss://" + plain, all,
			[]string{"does it speak TLS? a port without TLS takes redis://"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // each is tried for the 5 s a Redis has to answer
			_, _, _, err := openRedis(ctx, c.url, c.files, 2, discard)
			t.Log(err)
			var u *unreachableError
			if !errors.As(err, &u) {
				t.Fatalf("error %v, want Redis unreachable", err)
			}
			for _, want := range c.says {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q: %v", want, err)
				}
			}
		})
	}
}

// The TLS files are read at start: one that is missing, is no PEM, or a key that does
// not go with its certificate is a usage error (exit status 2) naming the flag, or the
// variable it came from; so are files given for a URL without TLS, or for no URL.
func TestRedisTLSFilesAreChecked(t *testing.T) {
	t.Setenv("FAULT_API", "http://127.0.0.1:1") // no step runs
	dir := testutil.WriteRelay(t)
	pki := newTestPKI(t)
	tlsURL := "rediss://" + refusingAddr(t)
	serve := []string{"serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}
	for _, c := range []struct {
		name string
		args []string
		env  map[string]string
		says string
	}{
		{"a missing CA", []string{"--redis", tlsURL, "--redis-tls-ca", pki.ca + ".missing"}, nil, "--redis-tls-ca: open " + pki.ca + ".missing"},
		{"a CA that is no PEM", []string{"--redis", tlsURL, "--redis-tls-ca", pki.notPEM}, nil, "--redis-tls-ca: " + pki.notPEM + " holds no PEM certificate"},
		{"a certificate without its key", []string{"--redis", tlsURL, "--redis-tls-cert", pki.clientCert}, nil, "--redis-tls-cert and --redis-tls-key go together"},
		{"a certificate that is no PEM", []string{"--redis", tlsURL, "--redis-tls-cert", pki.notPEM, "--redis-tls-key", pki.clientKey}, nil,
			"--redis-tls-cert: " + pki.notPEM + " holds no PEM certificate"},
		{"a key that is a certificate", []string{"--redis", tlsURL, "--redis-tls-cert", pki.clientCert, "--redis-tls-key", pki.clientCert}, nil,
			"--redis-tls-key: " + pki.clientCert + " holds no PEM private key"},
		{"a key of another certificate", []string{"--redis", tlsURL, "--redis-tls-cert", pki.clientCert, "--redis-tls-key", pki.strangerKey}, nil,
			"--redis-tls-key: " + pki.strangerKey + " does not go with the certificate " + pki.clientCert + ": tls: private key does not match public key"},
		{"from the environment", []string{"--redis", tlsURL},
			map[string]string{"HOOKFLOW_REDIS_TLS_CERT": pki.clientCert, "HOOKFLOW_REDIS_TLS_KEY": pki.strangerKey},
			"HOOKFLOW_REDIS_TLS_KEY: " + pki.strangerKey + " does not go with"},
		{"a URL without TLS", []string{"--redis", "redis://" + refusingAddr(t), "--redis-tls-ca", pki.ca}, nil,
			"--redis-tls-ca: the Redis URL is redis://, without TLS: use rediss://"},
		{"a Sentinel URL without TLS", []string{"--redis", "redis+sentinel://127.0.0.1:1/mymaster", "--redis-tls-ca", pki.ca}, nil,
			"use rediss+sentinel://"},
		{"no URL", []string{"--redis-tls-ca", pki.ca}, nil, "--redis-tls-ca: applies to a Redis given with --redis"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			var stderr bytes.Buffer
			err := run(context.Background(), append(append(serve, c.args...), dir), nil, io.Discard, &stderr)
			if code := exitStatus(err, &stderr); code != exitUsage || !strings.Contains(stderr.String(), c.says) {
				t.Errorf("exit status %d, want 2 saying %q:\n%s", code, c.says, stderr.String())
			}
		})
	}
}
