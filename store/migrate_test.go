package store

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/tern/v2/migrate"

	"github.com/xkcdapp/xkcdapp/migrations"
)

// TestLoadMigrationsAsTern: the app's own loader reads the migrations
// exactly as tern's LoadMigrations does.
func TestLoadMigrationsAsTern(t *testing.T) {
	ours, _ := migrate.NewMigrator(t.Context(), nil, "public.schema_version")
	if err := loadMigrations(ours, migrations.FS); err != nil {
		t.Fatalf("loadMigrations: %v", err)
	}
	terns, _ := migrate.NewMigrator(t.Context(), nil, "public.schema_version")
	if err := terns.LoadMigrations(migrations.FS); err != nil {
		t.Fatalf("tern's LoadMigrations: %v", err)
	}
	if len(ours.Migrations) != len(terns.Migrations) {
		t.Fatalf("migrations: got %d, want %d", len(ours.Migrations), len(terns.Migrations))
	}
	for i, got := range ours.Migrations {
		want := terns.Migrations[i]
		if got.Sequence != want.Sequence || got.Name != want.Name || got.UpSQL != want.UpSQL || got.DownSQL != want.DownSQL {
			t.Errorf("migration %d: got %+v, want %+v", i+1, got, want)
		}
	}
}

func TestLoadMigrationsRefuses(t *testing.T) {
	for _, tt := range []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{"template", fstest.MapFS{"001_a.sql": {Data: []byte("CREATE TABLE {{.name}} (id int);")}}, "templates"},
		{"comments only", fstest.MapFS{"001_a.sql": {Data: []byte("-- nothing yet\n\n---- create above / drop below ----\nDROP TABLE a;")}}, migrate.ErrNoFwMigration.Error()},
		{"gap", fstest.MapFS{"001_a.sql": {Data: []byte("SELECT 1;")}, "003_c.sql": {Data: []byte("SELECT 1;")}}, "Missing migration 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := migrate.NewMigrator(t.Context(), nil, "public.schema_version")
			err := loadMigrations(m, tt.fsys)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("loadMigrations: got %v, want an error saying %q", err, tt.want)
			}
		})
	}
	m, _ := migrate.NewMigrator(t.Context(), nil, "public.schema_version")
	if err := loadMigrations(m, fstest.MapFS{}); !errors.As(err, new(migrate.NoMigrationsFoundError)) {
		t.Errorf("loadMigrations of no files: got %v, want NoMigrationsFoundError", err)
	}
}
