package session_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xkcdapp/xkcdapp/session"
	"github.com/xkcdapp/xkcdapp/session/sessiontest"
	"github.com/xkcdapp/xkcdapp/tlstest"
)

// TestRedisOverTLS: sessions reach a TLS-only Redis that wants an AUTH
// token or an ACL user, trusting the CA they are told to and no other.
func TestRedisOverTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "xkcdapp test CA")
	srv := sessiontest.NewTLSServer(t, ca, "auth-token-1", "app:app-password")

	works := []struct{ name, url string }{
		{"AUTH token", "rediss://:auth-token-1@" + srv.Addr + "/0"},
		{"ACL user", "rediss://app:app-password@" + srv.Addr},
		{"by host name", "rediss://:auth-token-1@" + strings.Replace(srv.Addr, "127.0.0.1", "localhost", 1)},
	}
	for _, tt := range works {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t, tt.url, session.Options{CAFile: ca.CertFile}, discard)
			if err := s.Ping(t.Context()); err != nil {
				t.Fatalf("Ping: %v, want nil", err)
			}
			token := save(t, s, "seen", []byte("353"))
			if got := string(load(t, s, token, "seen")); got != "353" {
				t.Errorf("session read back over TLS: got %q, want %q", got, "353")
			}
		})
	}

	other := tlstest.NewCA(t, "some other CA")
	fails := []struct {
		name, url string
		opts      session.Options
		want      string
	}{
		{"wrong token", "rediss://:wrong@" + srv.Addr, session.Options{CAFile: ca.CertFile}, "WRONGPASS"},
		{"no token", "rediss://" + srv.Addr, session.Options{CAFile: ca.CertFile}, "NOAUTH"},
		{"wrong ACL password", "rediss://app:nope@" + srv.Addr, session.Options{CAFile: ca.CertFile}, "WRONGPASS"},
		{"another CA", "rediss://:auth-token-1@" + srv.Addr, session.Options{CAFile: other.CertFile}, "certificate signed by unknown authority"},
		{"the system's roots", "rediss://:auth-token-1@" + srv.Addr, session.Options{}, "certificate signed by unknown authority"},
		{"plain redis://", "redis://:auth-token-1@" + srv.Addr, session.Options{CAFile: ca.CertFile}, ""},
	}
	for _, tt := range fails {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t, tt.url, tt.opts, discard)
			err := s.Ping(t.Context())
			if err == nil {
				t.Fatalf("Ping: got nil, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Ping: got %q, want it to say %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "auth-token-1") {
				t.Errorf("Ping error shows the token: %q", err)
			}
		})
	}
}

// TestRedisChecksHostName: the certificate must name the host the URL
// does, as ElastiCache's names its endpoint; a valid certificate for
// another name is refused.
func TestRedisChecksHostName(t *testing.T) {
	ca := tlstest.NewCA(t, "xkcdapp test CA")
	srv := sessiontest.NewTLSServerNamed(t, ca, "localhost", "auth-token-1")
	_, port, _ := strings.Cut(srv.Addr, ":")

	named := open(t, "rediss://:auth-token-1@localhost:"+port, session.Options{CAFile: ca.CertFile}, discard)
	if err := named.Ping(t.Context()); err != nil {
		t.Fatalf("Ping by the certificate's name: %v, want nil", err)
	}
	byAddress := open(t, "rediss://:auth-token-1@127.0.0.1:"+port, session.Options{CAFile: ca.CertFile}, discard)
	err := byAddress.Ping(t.Context())
	if err == nil {
		t.Fatal("Ping by an address the certificate does not name: got nil, want an error")
	}
	if !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("Ping by an address the certificate does not name: got %q, want it to name 127.0.0.1", err)
	}
}

func TestBadCAFile(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("nothing here"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{notPEM, filepath.Join(t.TempDir(), "missing.pem")} {
		_, err := session.Open("rediss://cache:6379", session.Options{CAFile: file}, discard)
		if err == nil || !strings.Contains(err.Error(), "REDIS_TLS_CA") {
			t.Errorf("Open with CA file %s: got %v, want an error naming REDIS_TLS_CA", file, err)
		}
	}
}
