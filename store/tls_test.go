package store_test

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/xkcdapp/xkcdapp/config"
	"github.com/xkcdapp/xkcdapp/store"
	"github.com/xkcdapp/xkcdapp/store/storetest"
	"github.com/xkcdapp/xkcdapp/tlstest"
)

// TestPostgresTLS: the TLS settings reach pgx from both forms of database
// configuration, against a server that takes TLS connections only and
// whose certificate names localhost, not 127.0.0.1.
func TestPostgresTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "xkcdapp test CA")
	srv := storetest.NewTLSServer(t, ca, "localhost")
	other := tlstest.NewCA(t, "some other CA")
	port := strconv.Itoa(srv.Port)
	parts := func(host, mode, root string) map[string]string {
		return map[string]string{
			"DATABASE_HOST": host, "DATABASE_PORT": port, "DATABASE_NAME": "postgres",
			"DATABASE_USER": "postgres", "DATABASE_PASSWORD": srv.Password,
			"DATABASE_SSLMODE": mode, "DATABASE_SSLROOTCERT": root,
		}
	}
	withURL := func(host, mode, root string) map[string]string {
		return map[string]string{
			"DATABASE_URL":     fmt.Sprintf("postgres://postgres:%s@%s:%s/postgres?sslmode=disable", srv.Password, host, port),
			"DATABASE_SSLMODE": mode, "DATABASE_SSLROOTCERT": root,
		}
	}
	tests := []struct {
		name string
		env  map[string]string
		want string // "" to connect, else what the error says
	}{
		{"verify-full with its CA", parts("localhost", "verify-full", ca.CertFile), ""},
		{"verify-full with its CA over DATABASE_URL", withURL("localhost", "verify-full", ca.CertFile), ""},
		{"verify-ca with its CA, by address", parts("127.0.0.1", "verify-ca", ca.CertFile), ""},
		{"require", parts("localhost", "require", ""), ""},
		{"require over DATABASE_URL's disable", withURL("localhost", "require", ""), ""},
		{"verify-full with another CA", parts("localhost", "verify-full", other.CertFile), "certificate signed by unknown authority"},
		{"require with another CA", withURL("localhost", "require", other.CertFile), "certificate signed by unknown authority"},
		{"verify-full with the system's roots", parts("localhost", "verify-full", "system"), "certificate signed by unknown authority"},
		{"verify-full by an address the certificate does not name", parts("127.0.0.1", "verify-full", ca.CertFile), "127.0.0.1"},
		{"disable", parts("localhost", "disable", ""), "no encryption"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load("xkcdapp serve", nil, func(k string) string { return tt.env[k] }, io.Discard)
			if err != nil {
				t.Fatalf("config: %v", err)
			}
			db, err := store.OpenPostgres(t.Context(), cfg.DatabaseURL, 2)
			if err != nil {
				t.Fatalf("OpenPostgres: %v", err)
			}
			defer db.Close()
			err = db.Ping(t.Context())
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Ping: got %v, want nil", err)
			case tt.want != "" && err == nil:
				t.Errorf("Ping: got nil, want an error saying %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("Ping: got %q, want it to say %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), srv.Password) {
				t.Errorf("Ping error shows the password: %q", err)
			}
		})
	}
}
