package container

import (
	"context"
	"io"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/xkcdapp/xkcdapp/config"
)

// composeOptions reads compose.yaml with env as the whole environment.
func composeOptions(t *testing.T, env []string, more ...cli.ProjectOptionsFn) *cli.ProjectOptions {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "compose.yaml")},
		append([]cli.ProjectOptionsFn{cli.WithWorkingDirectory(root), cli.WithEnv(env)}, more...)...)
	if err != nil {
		t.Fatal(err)
	}
	return opts
}

// loadCompose loads compose.yaml as `docker compose` does, validation
// included, with env as the whole environment.
func loadCompose(t *testing.T, env ...string) *types.Project {
	t.Helper()
	p, err := composeOptions(t, env).LoadProject(context.Background())
	if err != nil {
		t.Fatalf("load compose.yaml: %v", err)
	}
	return p
}

func env(s types.ServiceConfig, name string) string {
	if v := s.Environment[name]; v != nil {
		return *v
	}
	return ""
}

func TestComposeServices(t *testing.T) {
	p := loadCompose(t)
	names := p.ServiceNames()
	slices.Sort(names)
	if want := []string{"app", "postgres", "redis"}; !slices.Equal(names, want) {
		t.Fatalf("services: got %v, want %v", names, want)
	}
	app := p.Services["app"]
	if app.Build == nil || app.Build.Dockerfile != "Dockerfile" {
		t.Errorf("app build: got %+v, want the Dockerfile", app.Build)
	} else if abs, _ := filepath.Abs(root); app.Build.Context != abs {
		t.Errorf("app build context: got %s, want the module's root %s", app.Build.Context, abs)
	}

	// Health-gated start: the app waits until both answer.
	for _, dep := range []string{"postgres", "redis"} {
		d, ok := app.DependsOn[dep]
		if !ok || d.Condition != types.ServiceConditionHealthy {
			t.Errorf("app depends_on %s: got %+v, want condition %s", dep, d, types.ServiceConditionHealthy)
		}
	}
	for _, name := range names {
		hc := p.Services[name].HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) < 2 || hc.Interval == nil || hc.Timeout == nil {
			t.Errorf("%s: healthcheck %+v, want a test, an interval and a timeout", name, hc)
		}
	}

	// The app's health check and port are the image's.
	stages := parseDockerfile(t)
	final := stages[len(stages)-1]
	image := last[*instructions.HealthCheckCommand](t, final, "HEALTHCHECK").Health
	if app.HealthCheck != nil && !slices.Equal([]string(app.HealthCheck.Test), image.Test) {
		t.Errorf("app healthcheck %q, want the image's %q", app.HealthCheck.Test, image.Test)
	}
	if len(app.Ports) != 1 || app.Ports[0].Target != 8000 {
		t.Errorf("app ports: got %+v, want one, to 8000", app.Ports)
	}
	// The stores are reached only on compose's own network.
	for _, name := range []string{"postgres", "redis"} {
		if ports := p.Services[name].Ports; len(ports) > 0 {
			t.Errorf("%s publishes %+v, want no port", name, ports)
		}
	}
	// Docker's stop timeout must leave serve its shutdown (drain, flush).
	if g := app.StopGracePeriod; g == nil || time.Duration(*g) < 25*time.Second {
		t.Errorf("app stop_grace_period %v, want at least 25s", g)
	}
}

// TestComposeAppSettings: the app's environment is one it accepts, and it
// points at the other services with their own credentials.
func TestComposeAppSettings(t *testing.T) {
	p := loadCompose(t)
	app, pg := p.Services["app"], p.Services["postgres"]
	cfg, err := config.Load("xkcdapp serve", nil, func(k string) string { return env(app, k) }, io.Discard)
	if err != nil {
		t.Fatalf("the app's environment in compose.yaml: %v", err)
	}
	u, err := url.Parse(cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	got := []string{u.Hostname(), u.Path, u.User.Username(), pw}
	want := []string{"postgres", "/" + env(pg, "POSTGRES_DB"), env(pg, "POSTGRES_USER"), env(pg, "POSTGRES_PASSWORD")}
	if !slices.Equal(got, want) || pw == "" {
		t.Errorf("database host, name, user and password: got %q, want %q", got, want)
	}
	if r, err := url.Parse(cfg.RedisURL); err != nil || r.Hostname() != "redis" {
		t.Errorf("REDIS_URL %q: want the redis service", cfg.RedisURL)
	}
}

// TestComposeSecrets: the only secret is the local database password, and
// it is written once, as an interpolation with a local default: set
// POSTGRES_PASSWORD and both ends change.
func TestComposeSecrets(t *testing.T) {
	raw, err := composeOptions(t, nil, cli.WithInterpolation(false)).LoadModel(context.Background())
	if err != nil {
		t.Fatalf("load compose.yaml: %v", err)
	}
	interpolation := regexp.MustCompile(`^\$\{[A-Z_]+:-[^}]*\}$`)
	checked := 0
	for name, s := range raw["services"].(map[string]any) {
		environment, _ := s.(map[string]any)["environment"].(map[string]any)
		for k, v := range environment {
			if !secretName.MatchString(k) {
				continue
			}
			checked++
			if v, _ := v.(string); !interpolation.MatchString(v) {
				t.Errorf("%s: %s is written into compose.yaml; want ${VAR:-local default}", name, k)
			}
		}
	}
	if checked == 0 {
		t.Error("no password found to check: the check reads nothing")
	}

	p := loadCompose(t, "POSTGRES_PASSWORD=from-the-environment")
	for _, s := range []struct{ service, name string }{{"app", "DATABASE_PASSWORD"}, {"postgres", "POSTGRES_PASSWORD"}} {
		if got := env(p.Services[s.service], s.name); got != "from-the-environment" {
			t.Errorf("%s %s with POSTGRES_PASSWORD set: got %q, want the environment's", s.service, s.name, got)
		}
	}
	if v := env(loadCompose(t).Services["app"], "DATABASE_PASSWORD"); !strings.Contains(v, "local") {
		t.Errorf("the default password %q does not say it is for local use", v)
	}
}

// TestComposePostgresReadyOverTCP: on a fresh volume the postgres image
// first runs a temporary server that listens on its Unix socket only,
// while it creates the database. pg_isready without a host asks that
// socket, so the service would be called healthy, and the app started,
// before anything listens on TCP. Asking 127.0.0.1 waits for the real one.
func TestComposePostgresReadyOverTCP(t *testing.T) {
	p := loadCompose(t)
	pg := p.Services["postgres"]
	hc := pg.HealthCheck
	if hc == nil || len(hc.Test) < 2 || hc.Test[0] != "CMD" || hc.Test[1] != "pg_isready" {
		t.Fatalf("postgres healthcheck %q, want [CMD pg_isready ...]", hc.Test)
	}
	args := map[string]string{}
	words := hc.Test[2:]
	for i := 0; i < len(words); i++ {
		name, value, ok := strings.Cut(words[i], "=")
		if !ok && i+1 < len(words) {
			value = words[i+1]
			i++
		}
		args[name] = value
	}
	host := args["-h"] + args["--host"]
	if host != "127.0.0.1" && host != "localhost" {
		t.Errorf("postgres healthcheck %q asks host %q, want 127.0.0.1: the Unix socket answers during initialisation", hc.Test, host)
	}
	if got, want := args["-U"]+args["--username"], env(pg, "POSTGRES_USER"); got != want {
		t.Errorf("postgres healthcheck user %q, want POSTGRES_USER %q", got, want)
	}
	if got, want := args["-d"]+args["--dbname"], env(pg, "POSTGRES_DB"); got != want {
		t.Errorf("postgres healthcheck database %q, want POSTGRES_DB %q", got, want)
	}
}

// TestComposeAppSettingNames: every variable compose gives the app is one
// of its settings; config ignores the rest, so a misspelt name would
// silently leave its setting at the default.
func TestComposeAppSettingNames(t *testing.T) {
	app := loadCompose(t).Services["app"]
	if len(app.Environment) == 0 {
		t.Fatal("the app has no environment in compose.yaml: nothing to check")
	}
	for name := range app.Environment {
		if !config.Known(name) {
			t.Errorf("compose.yaml gives the app %s, which is not one of its settings", name)
		}
	}
}
