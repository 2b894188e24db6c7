// Package storetest gives tests a database of their own on the real
// Postgres server, so packages tested in parallel never see each other's rows.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xkcdapp/xkcdapp/store"
)

// DefaultURL is the local server the tests use when TEST_DATABASE_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// NewDatabase creates an empty database for this test, dropped when the test
// ends, and returns its URL. Without a reachable server the test is skipped,
// loudly, or fails when CI is set.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("TEST_DATABASE_URL")
	if admin == "" {
		admin = DefaultURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		unavailable(t, "Postgres", admin, err)
	}
	defer conn.Close(ctx)

	b := make([]byte, 6)
	rand.Read(b)
	name := "xkcdapp_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("drop test database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// unavailable skips the test when a real service is missing, unless CI is
// set: there a missing service is a broken build, not a reason to skip.
func unavailable(t testing.TB, service, addr string, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s at %s is unreachable and CI is set: %v", service, addr, err)
	}
	t.Skipf("SKIPPING: %s at %s is unreachable: %v", service, addr, err)
}

// NewPostgres opens the database at url as a migrated store, closed when
// the test ends.
func NewPostgres(t testing.TB, url string) *store.Postgres {
	t.Helper()
	p, err := store.OpenPostgres(context.Background(), url, 0)
	if err != nil {
		t.Fatalf("open Postgres: %v", err)
	}
	t.Cleanup(p.Close)
	if err := p.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return p
}
