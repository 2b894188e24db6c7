package paramstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/xkcdapp/xkcdapp/paramstore"
	"github.com/xkcdapp/xkcdapp/paramstore/paramstoretest"
)

// fakeEnv is the environment that points the SDK at the fake.
func fakeEnv(fake *paramstoretest.Server) func(string) string {
	env := map[string]string{
		"AWS_REGION":            "eu-west-1",
		"AWS_ENDPOINT_URL_SSM":  fake.URL,
		"AWS_ACCESS_KEY_ID":     "AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
	}
	return func(k string) string { return env[k] }
}

func load(t *testing.T, fake *paramstoretest.Server, prefix string) (paramstore.Params, error) {
	t.Helper()
	ctx := context.Background()
	client, err := paramstore.NewClient(ctx, prefix, fakeEnv(fake))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return paramstore.Load(ctx, client, prefix)
}

func TestLoadEveryPage(t *testing.T) {
	paramstoretest.Isolate(t)
	var params []paramstoretest.Parameter
	want := make(map[string]string)
	for i := range 25 {
		name := fmt.Sprintf("SETTING_%02d", i)
		params = append(params, paramstoretest.Parameter{Name: "/xkcdapp/prod/" + name, Type: "String", Value: fmt.Sprint("value ", i)})
		want[name] = fmt.Sprint("value ", i)
	}
	fake := paramstoretest.NewServer(t, params...)
	got, err := load(t, fake, "/xkcdapp/prod/")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(got) != len(want) {
		t.Errorf("parameters loaded: got %d, want %d", len(got), len(want))
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s: got %q, want %q", name, got[name], v)
		}
	}
	if calls := fake.Calls(); calls != 3 {
		t.Errorf("calls for 25 parameters, 10 a page: got %d, want 3", calls)
	}
}

func TestLoadNamesAndScope(t *testing.T) {
	paramstoretest.Isolate(t)
	fake := paramstoretest.NewServer(t,
		paramstoretest.Parameter{Name: "/xkcdapp/prod/DATABASE_PASSWORD", Type: "SecureString", Value: "s3cret pass"},
		paramstoretest.Parameter{Name: "/xkcdapp/prod/cache/REDIS_URL", Type: "SecureString", Value: "rediss://:tok@cache:6379"},
		paramstoretest.Parameter{Name: "/xkcdapp/prod/LOG_LEVEL", Type: "String", Value: "warn"},
		paramstoretest.Parameter{Name: "/xkcdapp/staging/DATABASE_PASSWORD", Type: "SecureString", Value: "staging"},
		paramstoretest.Parameter{Name: "/xkcdapp/production/LOG_LEVEL", Type: "String", Value: "debug"},
	)
	got, err := load(t, fake, "/xkcdapp/prod/")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := map[string]string{
		"DATABASE_PASSWORD": "s3cret pass", // decrypted, not ciphertext
		"REDIS_URL":         "rediss://:tok@cache:6379",
		"LOG_LEVEL":         "warn",
	}
	if len(got) != len(want) {
		t.Errorf("loaded %v, want only the names of %v", got.Names(), want)
	}
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s: got %q, want %q", name, got[name], v)
		}
	}
	if names := strings.Join(got.Names(), ","); names != "DATABASE_PASSWORD,LOG_LEVEL,REDIS_URL" {
		t.Errorf("Names: got %s, want them sorted", names)
	}
}

func TestLoadSameNameTwice(t *testing.T) {
	paramstoretest.Isolate(t)
	fake := paramstoretest.NewServer(t,
		paramstoretest.Parameter{Name: "/xkcdapp/prod/LOG_LEVEL", Type: "String", Value: "warn"},
		paramstoretest.Parameter{Name: "/xkcdapp/prod/old/LOG_LEVEL", Type: "String", Value: "debug"},
	)
	_, err := load(t, fake, "/xkcdapp/prod/")
	if err == nil || !strings.Contains(err.Error(), "/xkcdapp/prod/old/LOG_LEVEL") {
		t.Errorf("Load with LOG_LEVEL twice: got %v, want an error naming both paths", err)
	}
}

func TestLoadAccessDenied(t *testing.T) {
	paramstoretest.Isolate(t)
	fake := paramstoretest.NewServer(t, paramstoretest.Parameter{Name: "/xkcdapp/prod/DATABASE_PASSWORD", Type: "SecureString", Value: "hunter2"})
	fake.Deny()
	_, err := load(t, fake, "/xkcdapp/prod/")
	if err == nil {
		t.Fatal("Load without permission: got nil, want an error")
	}
	for _, want := range []string{"ssm:GetParametersByPath", "/xkcdapp/prod/", "access denied"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Load without permission: got %q, want it to say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error shows a secret: %q", err)
	}
	if calls := fake.Calls(); calls != 1 {
		t.Errorf("calls: got %d, want 1 (access denied is not retried)", calls)
	}
}

// TestLoadThrottled: many tasks starting at once can exceed SSM's request
// rate; a throttled call is retried rather than failing the start.
func TestLoadThrottled(t *testing.T) {
	paramstoretest.Isolate(t)
	fake := paramstoretest.NewServer(t, paramstoretest.Parameter{Name: "/xkcdapp/prod/DATABASE_PASSWORD", Type: "SecureString", Value: "hunter2"})
	fake.Throttle(2)
	got, err := load(t, fake, "/xkcdapp/prod/")
	if err != nil {
		t.Fatalf("Load throttled twice: %v, want the third attempt to succeed", err)
	}
	if got["DATABASE_PASSWORD"] != "hunter2" {
		t.Errorf("Load throttled twice: got names %v, want DATABASE_PASSWORD", got.Names())
	}
	if calls := fake.Calls(); calls != 3 {
		t.Errorf("calls: got %d, want 3", calls)
	}
}

// TestRegion: AWS_REGION, else AWS_DEFAULT_REGION (which the SDK itself
// does not read) is the region calls are signed for.
func TestRegion(t *testing.T) {
	paramstoretest.Isolate(t)
	fake := paramstoretest.NewServer(t, paramstoretest.Parameter{Name: "/xkcdapp/prod/LOG_LEVEL", Type: "String", Value: "warn"})
	for _, tt := range []struct{ region, defaultRegion, want string }{
		{"eu-central-1", "", "eu-central-1"},
		{"", "us-east-2", "us-east-2"},
		{"eu-central-1", "us-east-2", "eu-central-1"},
	} {
		env := map[string]string{
			"AWS_REGION": tt.region, "AWS_DEFAULT_REGION": tt.defaultRegion, "AWS_ENDPOINT_URL_SSM": fake.URL,
			"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
		}
		client, err := paramstore.NewClient(t.Context(), "/xkcdapp/prod/", func(k string) string { return env[k] })
		if err != nil {
			t.Fatalf("NewClient: %v", err)
		}
		if _, err := paramstore.Load(t.Context(), client, "/xkcdapp/prod/"); err != nil {
			t.Fatalf("Load: %v", err)
		}
		if got := fake.Region(); got != tt.want {
			t.Errorf("AWS_REGION=%q AWS_DEFAULT_REGION=%q: signed for %q, want %q", tt.region, tt.defaultRegion, got, tt.want)
		}
	}
}

func TestNoRegion(t *testing.T) {
	paramstoretest.Isolate(t)
	_, err := paramstore.NewClient(context.Background(), "/xkcdapp/prod/", func(string) string { return "" })
	if err == nil {
		t.Fatal("NewClient without a region: got nil, want an error")
	}
	for _, want := range []string{"AWS_REGION", "ssm:GetParametersByPath", "/xkcdapp/prod/"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("NewClient without a region: got %q, want it to say %q", err, want)
		}
	}
}

func TestBadPrefix(t *testing.T) {
	paramstoretest.Isolate(t)
	fake := paramstoretest.NewServer(t)
	if _, err := load(t, fake, "xkcdapp/prod"); err == nil || !strings.Contains(err.Error(), "SSM_PREFIX") {
		t.Errorf("Load with a prefix not starting with /: got %v, want an error naming SSM_PREFIX", err)
	}
	if calls := fake.Calls(); calls != 0 {
		t.Errorf("calls for a bad prefix: got %d, want 0", calls)
	}
}

func TestEnvironmentWins(t *testing.T) {
	params := paramstore.Params{"LOG_LEVEL": "warn", "DATABASE_PASSWORD": "from-ssm", "ADDR": ":9000"}
	env := map[string]string{"LOG_LEVEL": "debug", "ADDR": "  "}
	getenv := params.Under(func(k string) string { return env[k] })
	for name, want := range map[string]string{
		"LOG_LEVEL":         "debug",    // set in both: the environment's
		"DATABASE_PASSWORD": "from-ssm", // only in SSM
		"ADDR":              ":9000",    // blank in the environment counts as unset
		"REDIS_URL":         "",         // in neither
	} {
		if got := getenv(name); got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
}
