// Package config reads the app's settings from the environment, with a
// command-line flag mirroring each variable; a flag wins over its variable.
package config

import (
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xkcdapp/xkcdapp/admin"
)

// Config is every setting the app reads.
type Config struct {
	Addr          string
	DatabaseURL   string // "" means the embedded in-memory store; TLS settings are in its query
	DBMaxConns    int32
	DBConnectTime time.Duration // most time to open one Postgres connection; 0: the URL's, else 5 s
	RedisURL      string        // "" means sessions in memory; REDIS_PASSWORD is folded in
	RedisMaxConns int
	RedisTLSCA    string        // file of PEM roots for rediss://; "" means the system's
	RedisConnect  time.Duration // most time to open one Redis connection, TLS and AUTH included
	RedisTimeout  time.Duration // most time for one Redis read or write
	XKCDBaseURL   string
	LogLevel      slog.Level
	LogFormat     string // "json" or "text"
	Migrate       bool   // apply migrations when serve starts
	SyncInterval  time.Duration
	// AdminUser and AdminPasswordHash (argon2id) enable the admin console;
	// both empty disable it. The hash is never logged.
	AdminUser         string
	AdminPasswordHash string
}

// setting is one environment variable and its flag.
type setting struct {
	env, flag, def, usage string
	value                 *string
}

// newSettings lists every setting, each with a fresh value.
func newSettings() []*setting {
	return []*setting{
		{env: "ADDR", flag: "addr", def: ":8000", usage: "address to listen on"},
		{env: "DATABASE_URL", flag: "database-url", usage: "Postgres URL; empty: the DATABASE_* parts, or none at all for the in-memory store"},
		{env: "DATABASE_HOST", flag: "database-host", usage: "Postgres host, when DATABASE_URL is empty"},
		{env: "DATABASE_PORT", flag: "database-port", def: "5432", usage: "Postgres port"},
		{env: "DATABASE_NAME", flag: "database-name", def: "xkcdapp", usage: "Postgres database"},
		{env: "DATABASE_USER", flag: "database-user", def: "xkcdapp", usage: "Postgres user"},
		{env: "DATABASE_PASSWORD", flag: "database-password", usage: "Postgres password (prefer the environment to a flag)"},
		{env: "DATABASE_SSLMODE", flag: "database-sslmode", usage: "Postgres TLS: disable, allow, prefer, require, verify-ca or verify-full; empty: the URL's, else prefer"},
		{env: "DATABASE_SSLROOTCERT", flag: "database-sslrootcert", usage: "file of PEM certificates that sign the Postgres server's (e.g. the RDS bundle), or system"},
		{env: "DATABASE_MAX_CONNS", flag: "database-max-conns", def: "10", usage: "most Postgres connections held"},
		{env: "DATABASE_CONNECT_TIMEOUT", flag: "database-connect-timeout", usage: "most time to open a Postgres connection, in whole seconds; empty: the URL's connect_timeout, else 5s"},
		{env: "REDIS_URL", flag: "redis-url", usage: "Redis for sessions: redis://[user:password@]host:port[/db], or rediss:// for TLS; empty: sessions in memory"},
		{env: "REDIS_PASSWORD", flag: "redis-password", usage: "Redis password or AUTH token, over any in REDIS_URL (prefer the environment to a flag)"},
		{env: "REDIS_TLS_CA", flag: "redis-tls-ca", usage: "file of PEM certificates that sign the Redis server's, for rediss://; empty: the system's"},
		{env: "REDIS_MAX_CONNS", flag: "redis-max-conns", def: "32", usage: "most Redis connections held"},
		{env: "REDIS_CONNECT_TIMEOUT", flag: "redis-connect-timeout", def: "2s", usage: "most time to open a Redis connection"},
		{env: "REDIS_TIMEOUT", flag: "redis-timeout", def: "1s", usage: "most time for one Redis read or write"},
		{env: "XKCD_BASE_URL", flag: "xkcd-base-url", def: "https://xkcd.com", usage: "the xkcd JSON API"},
		{env: "LOG_LEVEL", flag: "log-level", def: "info", usage: "debug, info, warn or error"},
		{env: "LOG_FORMAT", flag: "log-format", def: "json", usage: "json or text"},
		{env: "MIGRATE", flag: "migrate", def: "true", usage: "apply database migrations when serve starts"},
		{env: "SYNC_INTERVAL", flag: "sync-interval", def: "15m", usage: "how often to look for new comics"},
		{env: "ADMIN_USER", flag: "admin-user", usage: "the admin console's username; empty: no admin console"},
		{env: "ADMIN_PASSWORD_HASH", flag: "admin-password-hash", usage: "argon2id hash of the admin's password, from xkcdapp hash-password (prefer the environment to a flag)"},
	}
}

// Known reports whether name is one of the app's settings, so that a
// parameter meant for it but misnamed is noticed.
func Known(name string) bool {
	for _, s := range newSettings() {
		if s.env == name {
			return true
		}
	}
	return false
}

// Load parses args (without the program and subcommand names) over getenv.
// A bad value is an error that names the variable.
func Load(name string, args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	settings := newSettings()
	byEnv := make(map[string]*setting)
	for _, s := range settings {
		// The flag's default is the built-in one, never the environment's
		// value: usage text must not print a password from the environment.
		s.value = fs.String(s.flag, s.def, s.usage+" ("+s.env+")")
		byEnv[s.env] = s
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	flagged := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { flagged[f.Name] = true })
	for _, s := range settings {
		if v := strings.TrimSpace(getenv(s.env)); v != "" && !flagged[s.flag] {
			*s.value = v
		}
	}
	get := func(env string) string { return strings.TrimSpace(*byEnv[env].value) }

	var cfg Config
	var errs []error
	bad := func(env, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s (-%s): %s", env, byEnv[env].flag, fmt.Sprintf(format, a...)))
	}

	cfg.Addr = get("ADDR")
	if _, port, err := net.SplitHostPort(cfg.Addr); err != nil {
		bad("ADDR", "%q is not host:port (e.g. :8000)", cfg.Addr)
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		bad("ADDR", "%q has no valid port", cfg.Addr)
	}

	timeout := func(env string) time.Duration {
		d, err := time.ParseDuration(get(env))
		if err != nil || d < 10*time.Millisecond || d > time.Minute {
			bad(env, "%q is not a duration from 10ms to 1m (e.g. 2s)", get(env))
		}
		return d
	}
	if get("DATABASE_CONNECT_TIMEOUT") != "" {
		cfg.DBConnectTime = timeout("DATABASE_CONNECT_TIMEOUT")
		if cfg.DBConnectTime%time.Second != 0 {
			bad("DATABASE_CONNECT_TIMEOUT", "%q is not a whole number of seconds (e.g. 5s)", get("DATABASE_CONNECT_TIMEOUT"))
		}
	}
	dbURL, err := databaseURL(get)
	if err != nil {
		errs = append(errs, err)
	} else if dbURL, err = withParams(dbURL, get, cfg.DBConnectTime); err != nil {
		errs = append(errs, err)
	}
	cfg.DatabaseURL = dbURL
	if n, err := strconv.Atoi(get("DATABASE_MAX_CONNS")); err != nil || n < 1 || n > 1000 {
		bad("DATABASE_MAX_CONNS", "%q is not a number from 1 to 1000", get("DATABASE_MAX_CONNS"))
	} else {
		cfg.DBMaxConns = int32(n)
	}

	cfg.RedisURL = get("REDIS_URL")
	if err := checkRedisURL(cfg.RedisURL); err != nil {
		bad("REDIS_URL", "%v", err)
	} else if pw := get("REDIS_PASSWORD"); pw != "" {
		if cfg.RedisURL == "" {
			bad("REDIS_PASSWORD", "is set but REDIS_URL is not")
		} else {
			cfg.RedisURL = withRedisPassword(cfg.RedisURL, pw)
		}
	}
	if cfg.RedisTLSCA = get("REDIS_TLS_CA"); cfg.RedisTLSCA != "" {
		if !strings.HasPrefix(cfg.RedisURL, "rediss://") {
			bad("REDIS_TLS_CA", "is set but REDIS_URL is not a rediss:// URL")
		} else if err := checkCertFile(cfg.RedisTLSCA); err != nil {
			bad("REDIS_TLS_CA", "%v", err)
		}
	}
	if n, err := strconv.Atoi(get("REDIS_MAX_CONNS")); err != nil || n < 1 || n > 1000 {
		bad("REDIS_MAX_CONNS", "%q is not a number from 1 to 1000", get("REDIS_MAX_CONNS"))
	} else {
		cfg.RedisMaxConns = n
	}
	cfg.RedisConnect = timeout("REDIS_CONNECT_TIMEOUT")
	cfg.RedisTimeout = timeout("REDIS_TIMEOUT")

	cfg.XKCDBaseURL = strings.TrimRight(get("XKCD_BASE_URL"), "/")
	if u, err := url.Parse(cfg.XKCDBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// Quoted only when it cannot hold a password.
		if err != nil || u.User != nil {
			bad("XKCD_BASE_URL", "not an http(s) URL")
		} else {
			bad("XKCD_BASE_URL", "%q is not an http(s) URL", cfg.XKCDBaseURL)
		}
	}

	if err := cfg.LogLevel.UnmarshalText([]byte(get("LOG_LEVEL"))); err != nil {
		bad("LOG_LEVEL", "%q is not debug, info, warn or error", get("LOG_LEVEL"))
	}
	switch cfg.LogFormat = strings.ToLower(get("LOG_FORMAT")); cfg.LogFormat {
	case "json", "text":
	default:
		bad("LOG_FORMAT", "%q is not json or text", get("LOG_FORMAT"))
	}

	if cfg.Migrate, err = strconv.ParseBool(get("MIGRATE")); err != nil {
		bad("MIGRATE", "%q is not true or false", get("MIGRATE"))
	}
	if cfg.SyncInterval, err = time.ParseDuration(get("SYNC_INTERVAL")); err != nil || cfg.SyncInterval < time.Minute {
		bad("SYNC_INTERVAL", "%q is not a duration of at least 1m (e.g. 15m)", get("SYNC_INTERVAL"))
	}

	cfg.AdminUser, cfg.AdminPasswordHash = get("ADMIN_USER"), get("ADMIN_PASSWORD_HASH")
	switch {
	case cfg.AdminUser == "" && cfg.AdminPasswordHash != "":
		bad("ADMIN_USER", "empty, but ADMIN_PASSWORD_HASH is set: set both to enable the admin console, or neither")
	case cfg.AdminUser != "" && cfg.AdminPasswordHash == "":
		bad("ADMIN_PASSWORD_HASH", "empty, but ADMIN_USER is set: make one with xkcdapp hash-password")
	case len(cfg.AdminUser) > 256:
		bad("ADMIN_USER", "longer than 256 bytes")
	case cfg.AdminPasswordHash != "":
		if _, err := admin.ParseHash(cfg.AdminPasswordHash); err != nil {
			// The error describes the format; it never quotes the hash.
			bad("ADMIN_PASSWORD_HASH", "%v; make one with xkcdapp hash-password", err)
		}
	}
	return cfg, errors.Join(errs...)
}

// databaseURL is DATABASE_URL, or one built from the tutorial's parts when
// DATABASE_HOST is set, or "" for the in-memory store.
func databaseURL(get func(string) string) (string, error) {
	if raw := get("DATABASE_URL"); raw != "" {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			// The URL may hold a password: never echo it.
			return "", errors.New("DATABASE_URL (-database-url): not a postgres:// URL")
		}
		return raw, nil
	}
	host := get("DATABASE_HOST")
	if host == "" {
		return "", nil
	}
	port := get("DATABASE_PORT")
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("DATABASE_PORT (-database-port): %q is not a port number", port)
	}
	u := url.URL{
		Scheme: "postgres",
		Host:   net.JoinHostPort(host, port),
		Path:   "/" + get("DATABASE_NAME"),
	}
	if pw := get("DATABASE_PASSWORD"); pw != "" {
		u.User = url.UserPassword(get("DATABASE_USER"), pw)
	} else {
		u.User = url.User(get("DATABASE_USER"))
	}
	return u.String(), nil
}

// sslModes are libpq's, which pgx follows.
var sslModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

// withParams puts DATABASE_SSLMODE, DATABASE_SSLROOTCERT and
// DATABASE_CONNECT_TIMEOUT, when given, in the database URL's query, over
// what the URL says: the URL carries every connection setting to pgx.
func withParams(dbURL string, get func(string) string, connectTimeout time.Duration) (string, error) {
	mode, root := strings.ToLower(get("DATABASE_SSLMODE")), get("DATABASE_SSLROOTCERT")
	if mode != "" && !slices.Contains(sslModes, mode) {
		return "", fmt.Errorf("DATABASE_SSLMODE (-database-sslmode): %q is not one of %s", mode, strings.Join(sslModes, ", "))
	}
	if root != "" && root != "system" {
		if err := checkCertFile(root); err != nil {
			return "", fmt.Errorf("DATABASE_SSLROOTCERT (-database-sslrootcert): %w", err)
		}
	}
	if dbURL == "" {
		return "", nil
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", errors.New("DATABASE_URL (-database-url): not a postgres:// URL")
	}
	q := u.Query()
	if mode != "" {
		q.Set("sslmode", mode)
	}
	if root != "" {
		q.Set("sslrootcert", root)
	}
	if connectTimeout > 0 {
		q.Set("connect_timeout", strconv.Itoa(int(connectTimeout/time.Second)))
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// SSLMode is the TLS mode a database URL asks for, safe to log.
func SSLMode(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return ""
	}
	if mode := u.Query().Get("sslmode"); mode != "" {
		return mode
	}
	return "prefer"
}

// checkCertFile makes sure a certificate file can be read and holds at
// least one PEM certificate, so that a wrong path fails at start rather
// than at the first connection.
func checkCertFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot read it: %w", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		return fmt.Errorf("%s holds no PEM certificate", path)
	}
	return nil
}

// withRedisPassword puts password in a checked Redis URL; a user name in
// the URL is then the ACL user it authenticates as.
func withRedisPassword(redisURL, password string) string {
	u, _ := url.Parse(redisURL)
	u.User = url.UserPassword(u.User.Username(), password)
	return u.String()
}

// Redacted returns a database URL safe to log: the password is masked and
// the query, which may carry one too, is dropped.
func Redacted(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		return "(unparsable)"
	}
	u.RawQuery = ""
	return u.Redacted()
}

// checkRedisURL accepts "" and redis:// or rediss:// URLs with a host and
// at most a database number for a path. Errors never echo the URL: it may
// hold a password.
func checkRedisURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "redis" && u.Scheme != "rediss"):
		return errors.New("not a redis:// or rediss:// URL")
	case u.Hostname() == "":
		return errors.New("has no host")
	case u.Path != "" && u.Path != "/":
		if n, err := strconv.Atoi(u.Path[1:]); err != nil || n < 0 || strings.ContainsAny(u.Path[1:], "+-") {
			return errors.New("path is not a database number (e.g. /0)")
		}
	}
	return nil
}

// RedactedRedis returns a Redis URL safe to log: without its user info,
// where Redis URLs carry a password, sometimes in the user's place.
func RedactedRedis(redisURL string) string {
	u, err := url.Parse(redisURL)
	if err != nil {
		return "(unparsable)"
	}
	u.User, u.RawQuery = nil, ""
	return u.String()
}
