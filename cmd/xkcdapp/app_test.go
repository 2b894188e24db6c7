package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xkcdapp/xkcdapp/logtest"
)

// testApp is run() serving on a loopback port, as main would run it.
type testApp struct {
	URL    string
	logs   *logtest.Buffer
	cancel context.CancelFunc
	done   chan error
}

// startApp runs the app on port 0 with env as its whole environment and
// waits until /healthz answers. The app is stopped when the test ends.
func startApp(t *testing.T, env map[string]string) *testApp {
	t.Helper()
	full := map[string]string{"ADDR": "127.0.0.1:0", "LOG_FORMAT": "json", "LOG_LEVEL": "debug"}
	for k, v := range env {
		full[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	app := &testApp{logs: &logtest.Buffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() {
		err := run(ctx, []string{"xkcdapp", "serve"}, func(k string) string { return full[k] }, pw, pw)
		pw.Close()
		app.done <- err
	}()
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			app.logs.Write(append(line, '\n'))
			var entry struct{ Msg, Addr string }
			if json.Unmarshal(line, &entry) == nil && entry.Msg == "listening" {
				listening <- entry.Addr
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case addr := <-listening:
		_, port, _ := net.SplitHostPort(addr)
		app.URL = "http://127.0.0.1:" + port
	case err := <-app.done:
		t.Fatalf("app exited before listening: %v\nlogs:\n%s", err, app.logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("app did not listen within 30s\nlogs:\n%s", app.logs)
	}
	t.Cleanup(func() {
		if err := app.Stop(); err != nil {
			t.Errorf("app stopped with error: %v", err)
		}
		if t.Failed() {
			t.Logf("app logs:\n%s", app.logs)
		}
	})
	waitFor(t, 10*time.Second, "/healthz to answer", func() bool {
		resp, err := http.Get(app.URL + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return app
}

// Stop sends the app what SIGTERM sends it and waits for run to return.
func (a *testApp) Stop() error {
	a.cancel()
	select {
	case err, ok := <-a.done:
		if !ok {
			return nil
		}
		close(a.done)
		return err
	case <-time.After(shutdownTimeout + 5*time.Second):
		return errors.New("app did not stop within the shutdown timeout")
	}
}

// waitUntilSynced waits until /readyz reports the whole catalog cached.
func (a *testApp) waitUntilSynced(t *testing.T) {
	t.Helper()
	waitFor(t, 30*time.Second, "the catalog to be complete", func() bool {
		var rd struct {
			Catalog struct{ Complete bool }
		}
		resp, err := http.Get(a.URL + "/readyz")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&rd) == nil && rd.Catalog.Complete
	})
}

func waitFor(t *testing.T, timeout time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// get fetches url and returns the status, header and body.
func get(t *testing.T, client *http.Client, url string, header ...string) (int, http.Header, string) {
	t.Helper()
	return send(t, client, http.MethodGet, url, header...)
}

// send makes a request without a body; header is name, value pairs.
func send(t *testing.T, client *http.Client, method, url string, header ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, string(body)
}

// noRedirects is a client that shows redirects instead of following them.
var noRedirects = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// Contains reports whether any log line contains s.
func stringsReader(s string) io.Reader { return strings.NewReader(s) }
