package container

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/xkcdapp/xkcdapp/xkcd/xkcdtest"
)

// imageBudget is the most the final image may weigh: 25 MB.
const imageBudget = 25_000_000

// buildCommand is the Dockerfile's `go build` command line, split into
// words and expanded as BuildKit would, with VERSION set to version and
// the target platform this machine's.
func buildCommand(t *testing.T, version string) []string {
	t.Helper()
	for _, stage := range parseDockerfile(t) {
		env := []string{}
		for _, c := range stage.Commands {
			switch c := c.(type) {
			case *instructions.ArgCommand:
				for _, kv := range c.Args {
					switch kv.Key {
					case "VERSION":
						env = append(env, "VERSION="+version)
					case "TARGETOS":
						env = append(env, "TARGETOS="+runtime.GOOS)
					case "TARGETARCH":
						env = append(env, "TARGETARCH="+runtime.GOARCH)
					default:
						env = append(env, kv.String())
					}
				}
			case *instructions.RunCommand:
				line := strings.Join(c.CmdLine, " ")
				if !strings.Contains(line, "go build") {
					continue
				}
				words, err := shell.NewLex('\\').ProcessWords(line, shell.EnvsFromSlice(env))
				if err != nil {
					t.Fatalf("expand %q: %v", line, err)
				}
				return words
			}
		}
	}
	t.Fatal("no RUN with go build in the Dockerfile")
	return nil
}

// dockerignore is the repository's .dockerignore, as the builder reads it.
func dockerignore(t *testing.T) *patternmatcher.PatternMatcher {
	t.Helper()
	f, err := os.Open(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	ignored, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	return ignored
}

// buildContext copies what .dockerignore lets into the build context to
// a temporary folder: a build there fails if it leaves out a needed file.
func buildContext(t *testing.T) string {
	t.Helper()
	ignored := dockerignore(t)
	dst := t.TempDir()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil || rel == "." {
			return err
		}
		skip, err := ignored.MatchesOrParentMatches(filepath.ToSlash(rel))
		switch {
		case err != nil:
			return err
		case skip && d.IsDir():
			return filepath.SkipDir
		case skip:
			return nil
		case d.IsDir():
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		case !d.Type().IsRegular():
			return nil
		}
		return copyFile(path, filepath.Join(dst, rel))
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// TestDockerignoreLocalSecrets: files that may sit in a checkout with
// secrets in them (compose's .env, a developer's keys) never reach the
// builder, present or not.
func TestDockerignoreLocalSecrets(t *testing.T) {
	ignored := dockerignore(t)
	for _, name := range []string{".env", ".env.local", "cmd/.env", "server.key", "certs/client.key", ".aws/credentials"} {
		if skip, err := ignored.MatchesOrParentMatches(name); err != nil || !skip {
			t.Errorf(".dockerignore lets %s into the build context", name)
		}
	}
	for _, name := range []string{"go.mod", "cmd/xkcdapp/main.go", "static/htmx.min.js"} {
		if skip, _ := ignored.MatchesOrParentMatches(name); skip {
			t.Errorf(".dockerignore keeps %s out of the build context", name)
		}
	}
}

func TestDockerignore(t *testing.T) {
	ctx := buildContext(t)
	for _, want := range []string{"go.mod", "go.sum", "cmd/xkcdapp/main.go", "static/htmx.min.js", "migrations/migrations.go"} {
		if _, err := os.Stat(filepath.Join(ctx, want)); err != nil {
			t.Errorf("build context lacks %s", want)
		}
	}
	// Version control, infrastructure code and docs: large, and none of
	// the image's business.
	for _, unwanted := range []string{".git", "deploy", "docs", "bench", "container/build_test.go"} {
		if _, err := os.Stat(filepath.Join(ctx, unwanted)); err == nil {
			t.Errorf("build context holds %s", unwanted)
		}
	}
}

// TestBinaryAsTheImageBuildsIt builds the binary from the build context
// with the Dockerfile's own command, then checks what the image relies
// on: a static binary (an empty base has no C library), its stamped
// version, and the health check against a running server.
func TestBinaryAsTheImageBuildsIt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the app: not with -short")
	}
	const version = "v0.0.0-image-test"
	words := buildCommand(t, version)
	env := os.Environ()
	for len(words) > 0 && strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "-") {
		env = append(env, words[0])
		words = words[1:]
	}
	if len(words) < 2 || words[0] != "go" || words[1] != "build" {
		t.Fatalf("build command %q: want VAR=value words, then go build", words)
	}
	bin := filepath.Join(t.TempDir(), "xkcdapp")
	out := slices.Index(words, "-o")
	if out < 0 || out+1 >= len(words) {
		t.Fatalf("build command %q has no -o", words)
	}
	words[out+1] = bin

	build := exec.Command(words[0], words[1:]...)
	build.Dir = buildContext(t)
	build.Env = append(env, "GOTOOLCHAIN=local", "GOFLAGS=")
	if output, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(words, " "), err, output)
	}

	checkStatic(t, bin)
	checkSize(t, bin)

	var stdout bytes.Buffer
	v := exec.Command(bin, "version")
	v.Stdout = &stdout
	if err := v.Run(); err != nil {
		t.Fatalf("xkcdapp version: %v", err)
	}
	if got, want := strings.TrimSpace(stdout.String()), "xkcdapp "+version; got != want {
		t.Errorf("xkcdapp version: got %q, want %q", got, want)
	}

	checkHealth(t, bin)
}

func checkStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("binary has a %v program header: it is dynamically linked", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("binary needs shared libraries %v", libs)
	}
	if f.Section(".symtab") != nil {
		t.Error("binary has a symbol table: it is not stripped (-s)")
	}
}

// checkSize weighs what the final image holds: the binary and the CA
// certificates (this machine's bundle stands for the build image's), plus
// an allowance for the RDS bundle, which is fetched at build time (about
// 160 kB; the allowance leaves room for the CAs Amazon adds to it). Layers
// add a few hundred bytes of metadata.
func checkSize(t *testing.T, bin string) {
	t.Helper()
	const rdsAllowance = 200_000
	var total int64
	for _, f := range []string{bin, "/etc/ssl/certs/ca-certificates.crt"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatalf("weigh %s: %v", f, err)
		}
		t.Logf("%s: %d bytes", filepath.Base(f), fi.Size())
		total += fi.Size()
	}
	t.Logf("image content: %.2f MB, plus at most %.1f MB for the RDS bundle; budget %.0f MB, %.2f MB to spare",
		float64(total)/1e6, rdsAllowance/1e6, imageBudget/1e6, float64(imageBudget-total-rdsAllowance)/1e6)
	if total+rdsAllowance > imageBudget {
		t.Errorf("image content %d bytes + %d for the RDS bundle: over the %d byte budget", total, rdsAllowance, imageBudget)
	}
}

// checkHealth starts the binary as the image does (its CMD, with the
// image's ADDR on another port) and runs the HEALTHCHECK's command.
func checkHealth(t *testing.T, bin string) {
	t.Helper()
	stages := parseDockerfile(t)
	final := stages[len(stages)-1]
	health := last[*instructions.HealthCheckCommand](t, final, "HEALTHCHECK").Health.Test[2:]
	serveArgs := last[*instructions.CmdCommand](t, final, "CMD").CmdLine

	upstream := xkcdtest.NewServer(20)
	t.Cleanup(upstream.Stop)
	port := freePort(t)
	srv := exec.Command(bin, serveArgs...)
	srv.Env = []string{"ADDR=127.0.0.1:" + port, "XKCD_BASE_URL=" + upstream.URL, "LOG_FORMAT=text"}
	var logs bytes.Buffer
	srv.Stdout, srv.Stderr = &logs, &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			srv.Process.Kill()
			<-exited
		}
	})

	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://127.0.0.1:" + port + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the built server did not answer within 30s:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The load balancer's health check, as deploy/ sets it, passes once
	// the catalog holds comics.
	path := deployHealthPath(t)
	for {
		var last string
		resp, err := http.Get("http://127.0.0.1:" + port + path)
		if err != nil {
			last = err.Error()
		} else {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			last = resp.Status
		}
		if time.Now().After(deadline) {
			t.Fatalf("the load balancer's health check %s did not answer 200 within 30s (last: %s)\n%s", path, last, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	healthcheck := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c := exec.CommandContext(ctx, bin, health...)
		c.Env = []string{"ADDR=:" + port} // as the image's ENV ADDR=:8000
		out, err := c.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return nil
	}
	if err := healthcheck(); err != nil {
		t.Errorf("HEALTHCHECK against the running server: %v, want exit 0", err)
	}

	// SIGTERM, as the container's stop sends: a clean exit.
	srv.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("server after SIGTERM: %v, want exit 0\n%s", err, logs.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("server did not stop within 40s of SIGTERM")
	}
	if err := healthcheck(); err == nil {
		t.Error("HEALTHCHECK with the server stopped: exit 0, want a failure")
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}
