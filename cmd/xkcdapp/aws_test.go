package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/xkcdapp/xkcdapp/paramstore/paramstoretest"
	"github.com/xkcdapp/xkcdapp/session/sessiontest"
	"github.com/xkcdapp/xkcdapp/store/storetest"
	"github.com/xkcdapp/xkcdapp/tlstest"
	"github.com/xkcdapp/xkcdapp/xkcd/xkcdtest"
)

// TestProductionSettings runs the app as it runs on AWS: secrets from SSM
// Parameter Store, Postgres and Redis over TLS with passwords, each
// verified against its CA. Pages are served with both in use, and no
// secret reaches the logs.
func TestProductionSettings(t *testing.T) {
	paramstoretest.Isolate(t)
	ca := tlstest.NewCA(t, "xkcdapp test CA")
	db := storetest.NewTLSServer(t, ca, "localhost")
	const redisToken = "redis-auth-token-7f3a"
	cache := sessiontest.NewTLSServer(t, ca, redisToken)
	_, redisPort, _ := strings.Cut(cache.Addr, ":")
	upstream := xkcdtest.NewServer(30)
	t.Cleanup(upstream.Stop)

	ssm := paramstoretest.NewServer(t,
		paramstoretest.Parameter{Name: "/xkcdapp/test/DATABASE_PASSWORD", Type: "SecureString", Value: db.Password},
		paramstoretest.Parameter{Name: "/xkcdapp/test/cache/REDIS_PASSWORD", Type: "SecureString", Value: redisToken},
		paramstoretest.Parameter{Name: "/xkcdapp/test/XKCD_BASE_URL", Type: "String", Value: upstream.URL},
		paramstoretest.Parameter{Name: "/xkcdapp/test/LOG_LEVEL", Type: "String", Value: "error"},
		paramstoretest.Parameter{Name: "/xkcdapp/test/DATABSE_USER", Type: "String", Value: "typo"},
	)
	app := startApp(t, map[string]string{
		"SSM_PREFIX":            "/xkcdapp/test/",
		"AWS_REGION":            "eu-west-1",
		"AWS_ENDPOINT_URL_SSM":  ssm.URL,
		"AWS_ACCESS_KEY_ID":     "AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY": "aws-secret-key-EXAMPLE",
		"DATABASE_HOST":         "localhost",
		"DATABASE_PORT":         strconv.Itoa(db.Port),
		"DATABASE_NAME":         "postgres",
		"DATABASE_USER":         "postgres",
		"DATABASE_SSLMODE":      "verify-full",
		"DATABASE_SSLROOTCERT":  ca.CertFile,
		"REDIS_URL":             "rediss://localhost:" + redisPort,
		"REDIS_TLS_CA":          ca.CertFile,
		// LOG_LEVEL is debug here (startApp's), and the environment wins.
	})
	app.waitUntilSynced(t)

	var rd struct {
		Database, Sessions struct {
			Kind  string
			OK    bool
			Error string
		}
	}
	status, _, body := get(t, http.DefaultClient, app.URL+"/readyz")
	if err := json.Unmarshal([]byte(body), &rd); err != nil || status != http.StatusOK {
		t.Fatalf("/readyz: status %d, body %q", status, body)
	}
	if rd.Database.Kind != "postgres" || !rd.Database.OK || rd.Sessions.Kind != "redis" || !rd.Sessions.OK {
		t.Errorf("/readyz: database %+v, sessions %+v; want postgres and redis, both ok", rd.Database, rd.Sessions)
	}
	// A visit is counted in Postgres and remembered in Redis.
	jar := newVisitor(t)
	if status, _, _ := get(t, jar, app.URL+"/comic/7"); status != http.StatusOK {
		t.Fatalf("GET /comic/7: status %d, want 200", status)
	}
	if status, _, body := get(t, jar, app.URL+"/history"); status != http.StatusOK || !strings.Contains(body, `/comic/7"`) {
		t.Errorf("GET /history after a visit: status %d, want 200 listing comic 7", status)
	}
	if ssm.Calls() != 1 {
		t.Errorf("SSM calls: got %d, want 1 (read once, at start)", ssm.Calls())
	}

	logs := app.logs.String()
	for _, want := range []string{`"msg":"settings read from SSM Parameter Store"`, `"environment_wins":["LOG_LEVEL"]`, `"name":"DATABSE_USER"`, `"sslmode":"verify-full"`, `"level":"DEBUG"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs do not contain %s", want)
		}
	}
	for _, secret := range []string{db.Password, redisToken, "aws-secret-key-EXAMPLE", "typo"} {
		if strings.Contains(logs, secret) {
			t.Errorf("a secret reached the logs: %q", secret)
		}
	}
}

// TestSSMFailuresStopStart: without a region, or without permission,
// the app does not start, and says which permission on which path.
func TestSSMFailuresStopStart(t *testing.T) {
	paramstoretest.Isolate(t)
	ssm := paramstoretest.NewServer(t, paramstoretest.Parameter{Name: "/xkcdapp/test/DATABASE_PASSWORD", Type: "SecureString", Value: "hunter2"})
	ssm.Deny()
	env := map[string]string{
		"SSM_PREFIX":            "/xkcdapp/test/",
		"AWS_ENDPOINT_URL_SSM":  ssm.URL,
		"AWS_ACCESS_KEY_ID":     "AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY": "aws-secret-key-EXAMPLE",
	}
	for _, region := range []string{"", "eu-west-1"} {
		env["AWS_REGION"] = region
		var out bytes.Buffer
		err := run(context.Background(), []string{"xkcdapp", "serve"}, func(k string) string { return env[k] }, &out, &out)
		if err == nil {
			t.Fatalf("run with AWS_REGION=%q and access denied: got nil, want an error", region)
		}
		for _, want := range []string{"ssm:GetParametersByPath", "/xkcdapp/test/"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("run with AWS_REGION=%q: got %q, want it to say %q", region, err, want)
			}
		}
		if strings.Contains(err.Error()+out.String(), "hunter2") {
			t.Errorf("a secret reached the output: %q", err)
		}
	}

}

// TestHealthcheckNeedsOnlyADDR: the container's health check reads no SSM
// parameter (it runs every few seconds), and so does not fail on settings
// that are only complete with theirs.
func TestHealthcheckNeedsOnlyADDR(t *testing.T) {
	paramstoretest.Isolate(t)
	upstream := xkcdtest.NewServer(5)
	t.Cleanup(upstream.Stop)
	app := startApp(t, map[string]string{"XKCD_BASE_URL": upstream.URL})
	_, port, _ := strings.Cut(strings.TrimPrefix(app.URL, "http://"), ":")

	ssm := paramstoretest.NewServer(t, paramstoretest.Parameter{Name: "/xkcdapp/test/REDIS_URL", Type: "SecureString", Value: "rediss://cache:6379"})
	env := map[string]string{
		"ADDR":                  ":" + port,
		"SSM_PREFIX":            "/xkcdapp/test/",
		"AWS_REGION":            "eu-west-1",
		"AWS_ENDPOINT_URL_SSM":  ssm.URL,
		"AWS_ACCESS_KEY_ID":     "AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY": "aws-secret-key-EXAMPLE",
		"REDIS_PASSWORD":        "token", // its REDIS_URL is in SSM
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"xkcdapp", "healthcheck"}, func(k string) string { return env[k] }, &out, &out); err != nil {
		t.Errorf("healthcheck against a running app: %v, want success\n%s", err, out.String())
	}
	if got := ssm.Calls(); got != 0 {
		t.Errorf("SSM calls by healthcheck: got %d, want none", got)
	}
}

// TestEmptyPrefix: a prefix with nothing under it is most likely a typo;
// the app starts (the environment may hold every setting) and says so.
func TestEmptyPrefix(t *testing.T) {
	paramstoretest.Isolate(t)
	upstream := xkcdtest.NewServer(5)
	t.Cleanup(upstream.Stop)
	ssm := paramstoretest.NewServer(t, paramstoretest.Parameter{Name: "/xkcdapp/prod/LOG_LEVEL", Type: "String", Value: "warn"})
	app := startApp(t, map[string]string{
		"XKCD_BASE_URL":         upstream.URL,
		"SSM_PREFIX":            "/xkcdapp/prd/",
		"AWS_REGION":            "eu-west-1",
		"AWS_ENDPOINT_URL_SSM":  ssm.URL,
		"AWS_ACCESS_KEY_ID":     "AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY": "aws-secret-key-EXAMPLE",
	})
	if !app.logs.Contains(`"msg":"no parameter under SSM_PREFIX","prefix":"/xkcdapp/prd/"`) {
		t.Errorf("logs do not warn of the empty prefix:\n%s", app.logs)
	}
}

// TestBadSettingFromSSM: a bad value read from SSM stops the start with an
// error that says the setting came from there, since the task's own
// environment does not show it, and never quotes a secret.
func TestBadSettingFromSSM(t *testing.T) {
	paramstoretest.Isolate(t)
	ssm := paramstoretest.NewServer(t,
		paramstoretest.Parameter{Name: "/xkcdapp/test/DATABASE_PORT", Type: "String", Value: "fivefourthreetwo"},
		paramstoretest.Parameter{Name: "/xkcdapp/test/DATABASE_PASSWORD", Type: "SecureString", Value: "hunter2"},
	)
	env := map[string]string{
		"SSM_PREFIX":            "/xkcdapp/test/",
		"AWS_REGION":            "eu-west-1",
		"AWS_ENDPOINT_URL_SSM":  ssm.URL,
		"AWS_ACCESS_KEY_ID":     "AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY": "aws-secret-key-EXAMPLE",
		"DATABASE_HOST":         "db.internal",
	}
	var out bytes.Buffer
	err := run(context.Background(), []string{"xkcdapp", "migrate"}, func(k string) string { return env[k] }, &out, &out)
	if err == nil {
		t.Fatal("run with a bad DATABASE_PORT from SSM: got nil, want an error")
	}
	for _, want := range []string{"DATABASE_PORT", "SSM Parameter Store", "/xkcdapp/test/"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("run with a bad DATABASE_PORT from SSM: got %q, want it to say %q", err, want)
		}
	}
	if strings.Contains(err.Error()+out.String(), "hunter2") {
		t.Errorf("a secret reached the output: %q", err)
	}
}
