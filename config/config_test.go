package config_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xkcdapp/xkcdapp/config"
	"github.com/xkcdapp/xkcdapp/tlstest"
)

// load reads a config from env and args and fails the test on an error.
func load(t *testing.T, env map[string]string, args ...string) config.Config {
	t.Helper()
	cfg, err := config.Load("xkcdapp serve", args, getenv(env), io.Discard)
	if err != nil {
		t.Fatalf("Load(%v, %v): got %v, want nil", env, args, err)
	}
	return cfg
}

// getenv looks variables up in env, as os.Getenv does in the process.
func getenv(env map[string]string) func(string) string {
	return func(key string) string { return env[key] }
}

func TestDefaults(t *testing.T) {
	got := load(t, nil)
	want := config.Config{
		Addr:          ":8000",
		DatabaseURL:   "",
		DBMaxConns:    10,
		RedisMaxConns: 32,
		RedisConnect:  2 * time.Second,
		RedisTimeout:  time.Second,
		XKCDBaseURL:   "https://xkcd.com",
		LogLevel:      slog.LevelInfo,
		LogFormat:     "json",
		Migrate:       true,
		SyncInterval:  15 * time.Minute,
	}
	if got != want {
		t.Errorf("Load with an empty environment: got %+v, want %+v", got, want)
	}
}

func TestEnvironmentAndFlags(t *testing.T) {
	env := map[string]string{
		"ADDR":               "127.0.0.1:9000",
		"DATABASE_URL":       "postgres://app@db.internal:5432/xkcd?sslmode=require",
		"DATABASE_MAX_CONNS": "25",
		"XKCD_BASE_URL":      "http://fake-xkcd:8080/",
		"LOG_LEVEL":          "debug",
		"LOG_FORMAT":         "text",
		"MIGRATE":            "false",
		"SYNC_INTERVAL":      "1h",
		"REDIS_URL":          "rediss://app:secret@cache.internal:6379/1",
		"REDIS_MAX_CONNS":    "8",
	}
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		field string
		got   func(config.Config) any
		want  any
	}{
		{"ADDR", env, nil, "Addr", func(c config.Config) any { return c.Addr }, "127.0.0.1:9000"},
		{"DATABASE_URL", env, nil, "DatabaseURL", func(c config.Config) any { return c.DatabaseURL }, env["DATABASE_URL"]},
		{"DATABASE_MAX_CONNS", env, nil, "DBMaxConns", func(c config.Config) any { return c.DBMaxConns }, int32(25)},
		{"XKCD_BASE_URL without its trailing slash", env, nil, "XKCDBaseURL", func(c config.Config) any { return c.XKCDBaseURL }, "http://fake-xkcd:8080"},
		{"LOG_LEVEL", env, nil, "LogLevel", func(c config.Config) any { return c.LogLevel }, slog.LevelDebug},
		{"LOG_FORMAT", env, nil, "LogFormat", func(c config.Config) any { return c.LogFormat }, "text"},
		{"MIGRATE", env, nil, "Migrate", func(c config.Config) any { return c.Migrate }, false},
		{"SYNC_INTERVAL", env, nil, "SyncInterval", func(c config.Config) any { return c.SyncInterval }, time.Hour},
		{"REDIS_URL", env, nil, "RedisURL", func(c config.Config) any { return c.RedisURL }, env["REDIS_URL"]},
		{"REDIS_MAX_CONNS", env, nil, "RedisMaxConns", func(c config.Config) any { return c.RedisMaxConns }, 8},
		{"surrounding spaces ignored", map[string]string{"ADDR": "  :7000 "}, nil, "Addr", func(c config.Config) any { return c.Addr }, ":7000"},

		{"-addr over ADDR", env, []string{"-addr", ":9100"}, "Addr", func(c config.Config) any { return c.Addr }, ":9100"},
		{"-database-url over DATABASE_URL", env, []string{"-database-url=postgres://other@db2/x"}, "DatabaseURL", func(c config.Config) any { return c.DatabaseURL }, "postgres://other@db2/x"},
		{"-log-level over LOG_LEVEL", env, []string{"-log-level", "error"}, "LogLevel", func(c config.Config) any { return c.LogLevel }, slog.LevelError},
		{"-migrate=true over MIGRATE", env, []string{"-migrate=true"}, "Migrate", func(c config.Config) any { return c.Migrate }, true},
		{"-sync-interval over SYNC_INTERVAL", env, []string{"-sync-interval", "5m"}, "SyncInterval", func(c config.Config) any { return c.SyncInterval }, 5 * time.Minute},
		{"a flag with no variable set", nil, []string{"-addr", ":8123"}, "Addr", func(c config.Config) any { return c.Addr }, ":8123"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := load(t, tt.env, tt.args...)
			if got := tt.got(cfg); got != tt.want {
				t.Errorf("%s: got %v, want %v", tt.field, got, tt.want)
			}
		})
	}
}

func TestDatabaseURLFromParts(t *testing.T) {
	const password = "p@ss:w/rd?#"
	parts := map[string]string{
		"DATABASE_HOST":     "db.internal",
		"DATABASE_PORT":     "6543",
		"DATABASE_NAME":     "comics",
		"DATABASE_USER":     "reader",
		"DATABASE_PASSWORD": password,
	}

	t.Run("parts", func(t *testing.T) {
		cfg := load(t, parts)
		u, err := url.Parse(cfg.DatabaseURL)
		if err != nil {
			t.Fatalf("parse DatabaseURL %q: %v", config.Redacted(cfg.DatabaseURL), err)
		}
		got, _ := u.User.Password()
		if got != password {
			t.Errorf("password: got %q, want %q", got, password)
		}
		fields := []struct{ name, got, want string }{
			{"scheme", u.Scheme, "postgres"},
			{"host", u.Host, "db.internal:6543"},
			{"database", u.Path, "/comics"},
			{"user", u.User.Username(), "reader"},
			{"query", u.RawQuery, ""},
			{"fragment", u.Fragment, ""},
		}
		for _, f := range fields {
			if f.got != f.want {
				t.Errorf("%s: got %q, want %q", f.name, f.got, f.want)
			}
		}
	})

	t.Run("defaults for the other parts", func(t *testing.T) {
		cfg := load(t, map[string]string{"DATABASE_HOST": "db"})
		if want := "postgres://xkcdapp@db:5432/xkcdapp"; cfg.DatabaseURL != want {
			t.Errorf("DatabaseURL: got %q, want %q", cfg.DatabaseURL, want)
		}
	})

	t.Run("DATABASE_URL wins", func(t *testing.T) {
		env := map[string]string{"DATABASE_URL": "postgresql://app@primary/xkcd"}
		for k, v := range parts {
			env[k] = v
		}
		cfg := load(t, env)
		if cfg.DatabaseURL != env["DATABASE_URL"] {
			t.Errorf("DatabaseURL: got %q, want %q", config.Redacted(cfg.DatabaseURL), env["DATABASE_URL"])
		}
	})
}

func TestBadValues(t *testing.T) {
	tests := []struct {
		env map[string]string
		// name is the variable the error must name.
		name string
	}{
		{map[string]string{"ADDR": "nonsense"}, "ADDR"},
		{map[string]string{"ADDR": ":99999"}, "ADDR"},
		{map[string]string{"DATABASE_HOST": "db", "DATABASE_PORT": "x"}, "DATABASE_PORT"},
		{map[string]string{"DATABASE_URL": "mysql://x"}, "DATABASE_URL"},
		{map[string]string{"XKCD_BASE_URL": "ftp://x"}, "XKCD_BASE_URL"},
		{map[string]string{"XKCD_BASE_URL": "https://"}, "XKCD_BASE_URL"},
		{map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{map[string]string{"LOG_FORMAT": "xml"}, "LOG_FORMAT"},
		{map[string]string{"MIGRATE": "maybe"}, "MIGRATE"},
		{map[string]string{"SYNC_INTERVAL": "1s"}, "SYNC_INTERVAL"},
		{map[string]string{"SYNC_INTERVAL": "often"}, "SYNC_INTERVAL"},
		{map[string]string{"DATABASE_MAX_CONNS": "0"}, "DATABASE_MAX_CONNS"},
		{map[string]string{"REDIS_URL": "http://cache:6379"}, "REDIS_URL"},
		{map[string]string{"REDIS_URL": "redis://"}, "REDIS_URL"},
		{map[string]string{"REDIS_URL": "redis://cache:6379/zero"}, "REDIS_URL"},
		{map[string]string{"REDIS_URL": "redis://cache:6379/-1"}, "REDIS_URL"},
		{map[string]string{"REDIS_MAX_CONNS": "lots"}, "REDIS_MAX_CONNS"},
		{map[string]string{"ADMIN_USER": "operator"}, "ADMIN_PASSWORD_HASH"},
		{map[string]string{"ADMIN_PASSWORD_HASH": testHash}, "ADMIN_USER"},
		{map[string]string{"ADMIN_USER": "operator", "ADMIN_PASSWORD_HASH": "hunter2hunter2"}, "ADMIN_PASSWORD_HASH"},
		{map[string]string{"ADMIN_USER": "operator", "ADMIN_PASSWORD_HASH": strings.Replace(testHash, "argon2id", "argon2i", 1)}, "ADMIN_PASSWORD_HASH"},
		{map[string]string{"ADMIN_USER": "operator", "ADMIN_PASSWORD_HASH": strings.Replace(testHash, "m=65536", "m=4194304", 1)}, "ADMIN_PASSWORD_HASH"},
		{map[string]string{"DATABASE_HOST": "db", "DATABASE_SSLMODE": "on"}, "DATABASE_SSLMODE"},
		{map[string]string{"DATABASE_HOST": "db", "DATABASE_SSLROOTCERT": "/nonexistent/ca.pem"}, "DATABASE_SSLROOTCERT"},
		{map[string]string{"DATABASE_CONNECT_TIMEOUT": "5"}, "DATABASE_CONNECT_TIMEOUT"},
		{map[string]string{"DATABASE_CONNECT_TIMEOUT": "2h"}, "DATABASE_CONNECT_TIMEOUT"},
		{map[string]string{"DATABASE_CONNECT_TIMEOUT": "1500ms"}, "DATABASE_CONNECT_TIMEOUT"},
		{map[string]string{"REDIS_CONNECT_TIMEOUT": "0s"}, "REDIS_CONNECT_TIMEOUT"},
		{map[string]string{"REDIS_TIMEOUT": "soon"}, "REDIS_TIMEOUT"},
		{map[string]string{"REDIS_PASSWORD": "token"}, "REDIS_PASSWORD"},
		{map[string]string{"REDIS_URL": "redis://cache:6379", "REDIS_TLS_CA": "/etc/ssl/certs/ca-certificates.crt"}, "REDIS_TLS_CA"},
		{map[string]string{"REDIS_URL": "rediss://cache:6379", "REDIS_TLS_CA": "/nonexistent/ca.pem"}, "REDIS_TLS_CA"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.env[tt.name], func(t *testing.T) {
			_, err := config.Load("xkcdapp serve", nil, getenv(tt.env), io.Discard)
			if err == nil {
				t.Fatalf("Load(%v): got nil, want an error naming %s", tt.env, tt.name)
			}
			if !strings.Contains(err.Error(), tt.name) {
				t.Errorf("Load(%v): got %q, want it to name %s", tt.env, err, tt.name)
			}
		})
	}

	t.Run("every bad variable named at once", func(t *testing.T) {
		env := map[string]string{"ADDR": "nonsense", "LOG_LEVEL": "loud", "MIGRATE": "maybe"}
		_, err := config.Load("xkcdapp serve", nil, getenv(env), io.Discard)
		for name := range env {
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("Load(%v): got %v, want it to name %s", env, err, name)
			}
		}
	})

	t.Run("unexpected argument", func(t *testing.T) {
		if _, err := config.Load("xkcdapp serve", []string{"extra"}, getenv(nil), io.Discard); err == nil {
			t.Errorf("Load with a stray argument: got nil, want an error")
		}
	})
}

// testHash is an argon2id hash of "correct horse battery".
const testHash = "$argon2id$v=19$m=65536,t=2,p=1$xAuGqeuYVmM+96JDSeszUw$jmJZ81OGGbTXqJBaacKt3NWm3IyAOaMjUnGsXbXodZg"

func TestAdmin(t *testing.T) {
	cfg := load(t, map[string]string{"ADMIN_USER": " operator ", "ADMIN_PASSWORD_HASH": testHash})
	if cfg.AdminUser != "operator" || cfg.AdminPasswordHash != testHash {
		t.Errorf("admin: got %q and %q, want %q and %q", cfg.AdminUser, cfg.AdminPasswordHash, "operator", testHash)
	}
	cfg = load(t, nil, "-admin-user", "root", "-admin-password-hash", testHash)
	if cfg.AdminUser != "root" || cfg.AdminPasswordHash != testHash {
		t.Errorf("admin from flags: got %q and %q, want %q and %q", cfg.AdminUser, cfg.AdminPasswordHash, "root", testHash)
	}

	// A malformed hash is named, never shown: it may be a pasted password.
	for _, bad := range []string{"hunter2hunter2", testHash[:40]} {
		_, err := config.Load("xkcdapp serve", nil, getenv(map[string]string{"ADMIN_USER": "operator", "ADMIN_PASSWORD_HASH": bad}), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "ADMIN_PASSWORD_HASH") || strings.Contains(err.Error(), bad) {
			t.Errorf("Load with a bad hash: got %v, want ADMIN_PASSWORD_HASH named and the value left out", err)
		}
	}
}

func TestSecretsKeptOut(t *testing.T) {
	const password = "hunter2"
	bad := []struct{ name, url string }{
		{"another scheme", "mysql://app:" + password + "@db/xkcd"},
		{"unparsable port", "postgres://app:" + password + "@db:port/xkcd"},
		{"unparsable host", "postgres://app:" + password + "@%zz/xkcd"},
	}
	for _, tt := range bad {
		t.Run("DATABASE_URL with "+tt.name, func(t *testing.T) {
			_, err := config.Load("xkcdapp serve", nil, getenv(map[string]string{"DATABASE_URL": tt.url}), io.Discard)
			if err == nil {
				t.Fatalf("Load(DATABASE_URL with %s): got nil, want an error", tt.name)
			}
			if !strings.Contains(err.Error(), "DATABASE_URL") || strings.Contains(err.Error(), password) {
				t.Errorf("Load error: got %q, want DATABASE_URL named and the password left out", err)
			}
		})
	}

	for _, url := range []string{"http://:" + password + "@cache", "redis://" + password + "@cache/x", "redis://u:" + password + "@%zz"} {
		t.Run("REDIS_URL "+config.RedactedRedis(url), func(t *testing.T) {
			_, err := config.Load("xkcdapp serve", nil, getenv(map[string]string{"REDIS_URL": url}), io.Discard)
			if err == nil || !strings.Contains(err.Error(), "REDIS_URL") || strings.Contains(err.Error(), password) {
				t.Errorf("Load error: got %v, want REDIS_URL named and the password left out", err)
			}
		})
	}
	for _, url := range []string{"ftp://xkcd:" + password + "@mirror", "https://xkcd:" + password + "@", "https://xkcd:" + password + "@%zz"} {
		t.Run("XKCD_BASE_URL "+config.RedactedRedis(url), func(t *testing.T) {
			_, err := config.Load("xkcdapp serve", nil, getenv(map[string]string{"XKCD_BASE_URL": url}), io.Discard)
			if err == nil || !strings.Contains(err.Error(), "XKCD_BASE_URL") || strings.Contains(err.Error(), password) {
				t.Errorf("Load error: got %v, want XKCD_BASE_URL named and the password left out", err)
			}
		})
	}
	for url, want := range map[string]string{
		"redis://:" + password + "@cache:6379/2":    "redis://cache:6379/2",
		"rediss://app:" + password + "@cache:6379":  "rediss://cache:6379",
		"redis://" + password + "@cache:6379":       "redis://cache:6379", // a lone user is a password
		"redis://cache:6379/0?password=" + password: "redis://cache:6379/0",
	} {
		if got := config.RedactedRedis(url); got != want {
			t.Errorf("RedactedRedis: got %q, want %q", got, want)
		}
	}

	tests := []struct {
		url, want string
	}{
		{"postgres://app:" + password + "@db:5432/xkcd?sslmode=require&password=" + password, "postgres://app:xxxxx@db:5432/xkcd"},
		{"postgres://app@db/xkcd?password=" + password, "postgres://app@db/xkcd"},
		{"postgres://app:p%40ss%3Aw%2Frd%3F%23@db/xkcd", "postgres://app:xxxxx@db/xkcd"},
		{"postgres://db/xkcd", "postgres://db/xkcd"},
	}
	for _, tt := range tests {
		t.Run("Redacted "+tt.want, func(t *testing.T) {
			if got := config.Redacted(tt.url); got != tt.want {
				t.Errorf("Redacted: got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestUsageKeepsSecretsOut: -h, an unknown flag or a flag without its value
// print usage to stderr, which reaches the logs; it must not show a
// password taken from the environment.
func TestUsageKeepsSecretsOut(t *testing.T) {
	env := map[string]string{
		"DATABASE_URL":        "postgres://app:hunter2@db/xkcdapp",
		"DATABASE_PASSWORD":   "hunter3",
		"REDIS_URL":           "rediss://:hunter3@cache:6379",
		"ADMIN_PASSWORD_HASH": testHash,
	}
	for _, args := range [][]string{{"-h"}, {"-nope"}, {"-addr"}} {
		var stderr bytes.Buffer
		if _, err := config.Load("xkcdapp serve", args, getenv(env), &stderr); err == nil {
			t.Errorf("Load(%q): no error, want one", args)
		}
		if out := stderr.String(); strings.Contains(out, "hunter2") || strings.Contains(out, "hunter3") || strings.Contains(out, testHash) {
			t.Errorf("usage for %q shows a password:\n%s", args, out)
		}
	}
}

// writeFile writes content to a file in a temporary folder and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDatabaseTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "test CA").CertFile
	query := func(t *testing.T, env map[string]string) url.Values {
		t.Helper()
		u, err := url.Parse(load(t, env).DatabaseURL)
		if err != nil {
			t.Fatal(err)
		}
		return u.Query()
	}
	t.Run("with the parts", func(t *testing.T) {
		q := query(t, map[string]string{"DATABASE_HOST": "db.rds.amazonaws.com", "DATABASE_SSLMODE": "Verify-Full", "DATABASE_SSLROOTCERT": ca})
		if q.Get("sslmode") != "verify-full" || q.Get("sslrootcert") != ca {
			t.Errorf("query: got %v, want sslmode=verify-full and sslrootcert=%s", q, ca)
		}
	})
	t.Run("over DATABASE_URL's own", func(t *testing.T) {
		q := query(t, map[string]string{"DATABASE_URL": "postgres://app@db/xkcd?sslmode=disable&application_name=x", "DATABASE_SSLMODE": "require"})
		if q.Get("sslmode") != "require" || q.Get("application_name") != "x" || q.Has("sslrootcert") {
			t.Errorf("query: got %v, want sslmode=require, the rest kept, no sslrootcert", q)
		}
	})
	t.Run("the system's roots", func(t *testing.T) {
		q := query(t, map[string]string{"DATABASE_HOST": "db", "DATABASE_SSLROOTCERT": "system"})
		if q.Get("sslrootcert") != "system" {
			t.Errorf("query: got %v, want sslrootcert=system", q)
		}
	})
	t.Run("neither set leaves the URL alone", func(t *testing.T) {
		raw := "postgres://app@db/xkcd?sslmode=verify-ca"
		if got := load(t, map[string]string{"DATABASE_URL": raw}).DatabaseURL; got != raw {
			t.Errorf("DatabaseURL: got %q, want %q", got, raw)
		}
	})
	t.Run("connect timeout", func(t *testing.T) {
		cfg := load(t, map[string]string{"DATABASE_URL": "postgres://app@db/xkcd?connect_timeout=30", "DATABASE_CONNECT_TIMEOUT": "3s"})
		if u, _ := url.Parse(cfg.DatabaseURL); u.Query().Get("connect_timeout") != "3" || cfg.DBConnectTime != 3*time.Second {
			t.Errorf("DatabaseURL %q, DBConnectTime %v: want connect_timeout=3 and 3s", cfg.DatabaseURL, cfg.DBConnectTime)
		}
	})
	t.Run("SSLMode", func(t *testing.T) {
		for raw, want := range map[string]string{"postgres://db/x?sslmode=verify-full": "verify-full", "postgres://db/x": "prefer"} {
			if got := config.SSLMode(raw); got != want {
				t.Errorf("SSLMode(%q): got %q, want %q", raw, got, want)
			}
		}
	})
	t.Run("a file with no certificate", func(t *testing.T) {
		notPEM := writeFile(t, "ca.pem", "not a certificate")
		_, err := config.Load("xkcdapp serve", nil, getenv(map[string]string{"DATABASE_HOST": "db", "DATABASE_SSLROOTCERT": notPEM}), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "DATABASE_SSLROOTCERT") || !strings.Contains(err.Error(), "no PEM certificate") {
			t.Errorf("Load: got %v, want DATABASE_SSLROOTCERT named with no PEM certificate", err)
		}
	})
}

func TestRedisPasswordAndTLS(t *testing.T) {
	ca := tlstest.NewCA(t, "test CA").CertFile
	tests := []struct {
		name, url, password, wantUser, wantPassword string
	}{
		{"AUTH token", "rediss://cache.amazonaws.com:6379", "tok/en+1", "", "tok/en+1"},
		{"over the URL's", "rediss://:old@cache:6379/2", "new", "", "new"},
		{"with an ACL user", "rediss://app@cache:6379", "pw", "app", "pw"},
		{"ACL user and password in the URL", "rediss://app:pw@cache:6379", "", "app", "pw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := load(t, map[string]string{"REDIS_URL": tt.url, "REDIS_PASSWORD": tt.password, "REDIS_TLS_CA": ca})
			u, err := url.Parse(cfg.RedisURL)
			if err != nil {
				t.Fatal(err)
			}
			pw, _ := u.User.Password()
			if u.User.Username() != tt.wantUser || pw != tt.wantPassword {
				t.Errorf("user and password: got %q %q, want %q %q", u.User.Username(), pw, tt.wantUser, tt.wantPassword)
			}
			if cfg.RedisTLSCA != ca {
				t.Errorf("RedisTLSCA: got %q, want %q", cfg.RedisTLSCA, ca)
			}
		})
	}
}

func TestKnown(t *testing.T) {
	for name, want := range map[string]bool{"DATABASE_PASSWORD": true, "REDIS_URL": true, "LOG_LEVEL": true, "DATABASE_PASWORD": false, "SSM_PREFIX": false, "log_level": false} {
		if got := config.Known(name); got != want {
			t.Errorf("Known(%q): got %v, want %v", name, got, want)
		}
	}
}
