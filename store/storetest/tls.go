package storetest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xkcdapp/xkcdapp/tlstest"
)

// TLSServer is a Postgres cluster owned by one test, on a port of its own,
// that takes connections over TLS only and with a password only, as RDS
// does with rds.force_ssl.
type TLSServer struct {
	Port     int
	Password string // the postgres superuser's
}

// NewTLSServer initialises and starts a cluster in a temporary folder,
// with a certificate from ca for hosts; it is stopped and removed when t
// ends. Without PostgreSQL's server binaries the test is skipped, loudly,
// or fails when CI is set.
func NewTLSServer(t testing.TB, ca *tlstest.CA, hosts ...string) *TLSServer {
	t.Helper()
	bin := serverBin(t)
	cred := postgresUser(t)

	dir, err := os.MkdirTemp("", "xkcdapp-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	data, sockets := filepath.Join(dir, "data"), filepath.Join(dir, "run")
	if err := os.Mkdir(sockets, 0o700); err != nil {
		t.Fatal(err)
	}
	const password = "pg-test-password"
	pwfile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	chown(t, cred, dir, sockets, pwfile)

	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--pwfile", pwfile, "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync")
	asPostgres(initdb, cred)
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	// TLS only, a password always: a client that skips either is refused.
	hba := "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\nhostssl all all ::1/128 scram-sha-256\n"
	cert, key := ca.Issue(hosts...)
	files := map[string]string{"pg_hba.conf": hba, "server.crt": read(t, cert), "server.key": read(t, key)}
	for name, content := range files {
		path := filepath.Join(data, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		chown(t, cred, path)
	}

	port := freePort(t)
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-k", sockets,
		"-c", "listen_addresses=127.0.0.1", "-c", "ssl=on", "-c", "fsync=off",
		"-c", "ssl_cert_file=server.crt", "-c", "ssl_key_file=server.key")
	asPostgres(cmd, cred)
	dieWithTest(cmd)
	out, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start postgres: %v", err)
	}
	var mu sync.Mutex
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			mu.Lock()
			log.WriteString(sc.Text() + "\n")
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT) // fast shutdown
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})

	// Ready once it answers on its socket, where no TLS is asked for.
	local := fmt.Sprintf("postgres://postgres@/postgres?host=%s&port=%d&sslmode=disable", sockets, port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, local)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			break
		}
		if time.Now().After(deadline) {
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("postgres on port %d did not answer within 60s: %v\n%s", port, err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &TLSServer{Port: port, Password: password}
}

// serverBin finds the folder of initdb and postgres: on PATH, or where
// Debian puts them, the newest version first.
func serverBin(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(found, func(i, j int) bool { return version(found[i]) > version(found[j]) })
	if len(found) == 0 {
		unavailable(t, "PostgreSQL server binaries", "PATH or /usr/lib/postgresql", exec.ErrNotFound)
	}
	return filepath.Dir(found[0])
}

func version(initdb string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return n
}

// postgresUser is who runs the server: the postgres user when the test
// runs as root (Postgres refuses root), else nil for the test's own user.
func postgresUser(t testing.TB) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		unavailable(t, "a postgres user to run the server as root", "/etc/passwd", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

func asPostgres(cmd *exec.Cmd, cred *syscall.Credential) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Env = append(os.Environ(), "LC_ALL=C")
}

func chown(t testing.TB, cred *syscall.Credential, paths ...string) {
	t.Helper()
	if cred == nil {
		return
	}
	for _, p := range paths {
		if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
}

func read(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
