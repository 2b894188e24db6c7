package sessiontest

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/xkcdapp/xkcdapp/tlstest"
)

// TLSServer is a redis-server owned by one test that speaks only TLS and
// wants a password, as ElastiCache does with encryption in transit and an
// AUTH token.
type TLSServer struct {
	Addr string // 127.0.0.1:port
}

// NewTLSServer starts a TLS-only redis-server with a certificate from ca
// for 127.0.0.1 and localhost, requiring token as its password, plus an
// ACL user for each "name:password" in users. It stops when t ends.
func NewTLSServer(t testing.TB, ca *tlstest.CA, token string, users ...string) *TLSServer {
	t.Helper()
	return newTLSServer(t, ca, []string{"127.0.0.1", "localhost"}, token, users...)
}

// NewTLSServerNamed is NewTLSServer with a certificate that names host
// alone: a client that checks host names accepts it under that name only.
func NewTLSServerNamed(t testing.TB, ca *tlstest.CA, host, token string, users ...string) *TLSServer {
	t.Helper()
	return newTLSServer(t, ca, []string{host}, token, users...)
}

func newTLSServer(t testing.TB, ca *tlstest.CA, hosts []string, token string, users ...string) *TLSServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		unavailable(t, "redis-server binary")
	}
	cert, key := ca.Issue(hosts...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	args := []string{
		"--port", "0", "--tls-port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", ca.CertFile,
		"--tls-auth-clients", "no", "--requirepass", token,
		"--save", "", "--appendonly", "no", "--dir", t.TempDir(),
	}
	for _, u := range users {
		name, pw, _ := strings.Cut(u, ":")
		args = append(args, "--user", name, "on", ">"+pw, "~*", "&*", "+@all")
	}
	cmd := exec.Command("redis-server", args...)
	dieWithTest(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	var log strings.Builder
	logged := make(chan struct{})
	go func() {
		defer close(logged)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	s := &TLSServer{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	deadline := time.Now().Add(10 * time.Second)
	for s.ping(ca, hosts[0], token) != nil {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-logged
			t.Fatalf("TLS redis-server on port %d did not answer within 10s; its log:\n%s", port, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

func (s *TLSServer) ping(ca *tlstest.CA, host, token string) error {
	pem, err := os.ReadFile(ca.CertFile)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := redis.DialURLContext(ctx, "rediss://:"+token+"@"+s.Addr,
		redis.DialTLSConfig(&tls.Config{RootCAs: roots, ServerName: host}))
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = redis.DoContext(c, ctx, "PING")
	return err
}
