package container

import (
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// root is the module's root, where the Dockerfile lives.
const root = ".."

// parseDockerfile parses the Dockerfile into stages, as BuildKit does.
func parseDockerfile(t *testing.T) []instructions.Stage {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ast, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("parse Dockerfile: %v", err)
	}
	for _, w := range ast.Warnings {
		t.Errorf("Dockerfile: %s", w.Short)
	}
	// The checks BuildKit makes while parsing (the casing of FROM ... AS
	// and of stage names, MAINTAINER); the rest of `docker build --check`
	// needs the base images, so this file's tests check what matters here.
	lint := linter.New(&linter.Config{
		Warn: func(rule, _, _, msg string, loc []parser.Range) {
			t.Errorf("Dockerfile line %d: %s: %s", loc[0].Start.Line, rule, msg)
		},
	})
	stages, _, err := instructions.Parse(ast.AST, lint)
	if err != nil {
		t.Fatalf("parse Dockerfile instructions: %v", err)
	}
	return stages
}

// commands returns the commands of type T in stage.
func commands[T instructions.Command](stage instructions.Stage) []T {
	var found []T
	for _, c := range stage.Commands {
		if v, ok := c.(T); ok {
			found = append(found, v)
		}
	}
	return found
}

// last returns the last command of type T in stage, or fails the test.
func last[T instructions.Command](t *testing.T, stage instructions.Stage, what string) T {
	t.Helper()
	found := commands[T](stage)
	if len(found) == 0 {
		var zero T
		t.Fatalf("the final stage has no %s", what)
		return zero
	}
	return found[len(found)-1]
}

func TestDockerfileStages(t *testing.T) {
	stages := parseDockerfile(t)
	if len(stages) < 2 {
		t.Fatalf("stages: got %d, want a build stage and a final one", len(stages))
	}
	if !strings.HasPrefix(stages[0].BaseName, "golang:") {
		t.Errorf("build stage FROM %s, want the official Go image", stages[0].BaseName)
	}
	// Go cross-compiles: the build stage runs on the builder's own
	// platform, so an arm64 image builds on an x86 machine without
	// emulation (the final stage runs nothing).
	if stages[0].Platform != "$BUILDPLATFORM" {
		t.Errorf("build stage FROM --platform=%q, want $BUILDPLATFORM", stages[0].Platform)
	}
	final := stages[len(stages)-1]
	if final.BaseName != "scratch" && !strings.HasPrefix(final.BaseName, "gcr.io/distroless/static") {
		t.Errorf("final stage FROM %s, want scratch or distroless static", final.BaseName)
	}
	// Nothing in the final stage runs: an empty base has no shell.
	if runs := commands[*instructions.RunCommand](final); len(runs) > 0 {
		t.Errorf("final stage has %d RUN commands, want none", len(runs))
	}
	copied := map[string]bool{}
	for _, c := range commands[*instructions.CopyCommand](final) {
		copied[c.DestPath] = true
	}
	for _, c := range commands[*instructions.AddCommand](final) {
		copied[c.DestPath] = true
		// A remote file lands unreadable (0600, root) unless told otherwise,
		// and the app does not run as root.
		if mode, err := strconv.ParseUint(c.Chmod, 8, 32); err != nil || mode&0o004 == 0 {
			t.Errorf("ADD %v: --chmod=%q, want one that lets others read", c.SourcePaths, c.Chmod)
		}
	}
	entry := last[*instructions.EntrypointCommand](t, final, "ENTRYPOINT")
	if len(entry.CmdLine) == 0 || entry.PrependShell {
		t.Fatalf("ENTRYPOINT %q: want the exec form: an empty base has no shell", entry.CmdLine)
	}
	// Go's TLS reads this file on Linux.
	for _, want := range []string{entry.CmdLine[0], "/etc/ssl/certs/ca-certificates.crt"} {
		if !copied[want] {
			t.Errorf("final stage does not copy in %s", want)
		}
	}
}

// TestDockerfileRDSBundleApart: Go trusts every certificate in every file
// of /etc/ssl/certs (and /etc/pki/tls/certs), not only the bundle named
// ca-certificates.crt. Amazon's RDS CAs belong to DATABASE_SSLROOTCERT
// alone, not to every TLS connection the app makes (xkcd, SSM, Redis).
func TestDockerfileRDSBundleApart(t *testing.T) {
	stages := parseDockerfile(t)
	final := stages[len(stages)-1]
	adds := commands[*instructions.AddCommand](final)
	if len(adds) == 0 {
		t.Fatal("the final stage ADDs nothing: where is the RDS bundle?")
	}
	for _, c := range adds {
		if dir := path.Dir(c.DestPath); dir == "/etc/ssl/certs" || dir == "/etc/pki/tls/certs" {
			t.Errorf("ADD %v to %s: a directory Go reads the system's roots from", c.SourcePaths, c.DestPath)
		}
	}
}

func TestDockerfileRunsUnprivileged(t *testing.T) {
	stages := parseDockerfile(t)
	final := stages[len(stages)-1]
	user := last[*instructions.UserCommand](t, final, "USER").User
	name, _, _ := strings.Cut(user, ":")
	if name == "" || name == "root" || name == "0" {
		t.Errorf("USER %q, want a non-root user", user)
	}
	// On scratch there is no /etc/passwd: a name would not resolve.
	if _, err := strconv.Atoi(name); final.BaseName == "scratch" && err != nil {
		t.Errorf("USER %q on scratch, want a numeric id", user)
	}
}

func TestDockerfileHealthAndPort(t *testing.T) {
	stages := parseDockerfile(t)
	final := stages[len(stages)-1]
	health := last[*instructions.HealthCheckCommand](t, final, "HEALTHCHECK").Health
	entry := last[*instructions.EntrypointCommand](t, final, "ENTRYPOINT").CmdLine
	if want := []string{"CMD", entry[0], "healthcheck"}; !slices.Equal(health.Test, want) {
		t.Errorf("HEALTHCHECK %q, want %q: the exec form, with no shell", health.Test, want)
	}
	if health.Interval <= 0 || health.Timeout <= 0 || health.StartPeriod <= 0 {
		t.Errorf("HEALTHCHECK interval %v timeout %v start period %v: want each set", health.Interval, health.Timeout, health.StartPeriod)
	}

	var ports []string
	for _, e := range commands[*instructions.ExposeCommand](final) {
		ports = append(ports, e.Ports...)
	}
	if !slices.Contains(ports, "8000") && !slices.Contains(ports, "8000/tcp") {
		t.Errorf("EXPOSE %v, want 8000", ports)
	}
	// The health check asks the port ADDR names; it must be the exposed one.
	addr := ""
	for _, e := range commands[*instructions.EnvCommand](final) {
		for _, kv := range e.Env {
			if kv.Key == "ADDR" {
				addr = kv.Value
			}
		}
	}
	if addr != ":8000" {
		t.Errorf("ENV ADDR=%q, want :8000, the exposed port", addr)
	}
}

// secretName is what a setting that holds a secret is called.
var secretName = regexp.MustCompile(`(?i)(PASSWORD|SECRET|TOKEN|CREDENTIAL|PRIVATE|_KEY$|^KEY$)`)

// TestDockerfileHoldsNoSecret: ENV and ARG values end up in the image's
// metadata and build history, readable by anyone who can pull it.
func TestDockerfileHoldsNoSecret(t *testing.T) {
	userinfo := regexp.MustCompile(`://[^/@\s]+@`)
	check := func(kind, key, value string) {
		if secretName.MatchString(key) {
			t.Errorf("%s %s: a secret's name; secrets come from the environment or SSM at run time", kind, key)
		}
		if userinfo.MatchString(value) {
			t.Errorf("%s %s: a URL with credentials", kind, key)
		}
	}
	for _, stage := range parseDockerfile(t) {
		for _, e := range commands[*instructions.EnvCommand](stage) {
			for _, kv := range e.Env {
				check("ENV", kv.Key, kv.Value)
			}
		}
		for _, a := range commands[*instructions.ArgCommand](stage) {
			for _, kv := range a.Args {
				check("ARG", kv.Key, kv.ValueString())
			}
		}
	}
	// The check itself must catch what it is for.
	for _, name := range []string{"DATABASE_PASSWORD", "REDIS_PASSWORD", "AWS_SECRET_ACCESS_KEY", "API_TOKEN"} {
		if !secretName.MatchString(name) {
			t.Errorf("secretName misses %s", name)
		}
	}
}

func TestDockerfileBuildFlags(t *testing.T) {
	cmd := buildCommand(t, "v9.9.9")
	line := strings.Join(cmd, " ")
	// buildCommand expands TARGETOS and TARGETARCH to this machine's.
	for _, want := range []string{"CGO_ENABLED=0", "GOOS=" + runtime.GOOS, "GOARCH=" + runtime.GOARCH, " -trimpath ", "-s -w", "-X main.version=v9.9.9", "./cmd/xkcdapp"} {
		if !strings.Contains(" "+line+" ", want) {
			t.Errorf("build command %q lacks %q", line, want)
		}
	}
}
