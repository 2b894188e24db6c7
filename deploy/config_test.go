package main

import (
	"strings"
	"testing"
)

// context is CDK context as cdk.json gives it (JSON numbers and booleans)
// or as -c gives it (strings).
func context(kv map[string]any) Context {
	return func(key string) any { return kv[key] }
}

func named() map[string]any {
	return map[string]any{"domainName": "xkcd.example.com", "hostedZoneName": "example.com", "hostedZoneId": "Z0123456789ABCDEFGHIJ"}
}

func TestFromContextOverlaysDefaults(t *testing.T) {
	kv := named()
	kv["envName"] = "staging"
	kv["taskCpu"] = float64(1024) // from cdk.json
	kv["taskMemoryMiB"] = "3072"  // from -c
	kv["multiAz"] = "true"
	kv["arm64"] = true
	kv["maxCount"] = "4"
	kv["cacheNodeType"] = "cache.t4g.small"
	kv["version"] = "v1.4.0-2-g1a2b3c4-dirty"
	cfg, err := FromContext(context(kv))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.EnvName != "staging" || cfg.TaskCPU != 1024 || cfg.TaskMemoryMiB != 3072 || !cfg.MultiAZ || !cfg.Arm64 ||
		cfg.MaxCount != 4 || cfg.CacheNodeType != "cache.t4g.small" || cfg.Version != "v1.4.0-2-g1a2b3c4-dirty" {
		t.Errorf("config %+v", cfg)
	}
	if cfg.DesiredCount != 2 || cfg.DatabaseInstanceType != "t4g.micro" || cfg.LogRetentionDays != 30 {
		t.Errorf("unset keys lost their defaults: %+v", cfg)
	}
	if cfg.RequestTarget() != 1024*3*60 {
		t.Errorf("request target %d, want 3 a second per CPU unit", cfg.RequestTarget())
	}
	if cfg.SSMPrefix() != "/xkcdapp/staging/" || cfg.StackName() != "Xkcdapp-staging" {
		t.Errorf("prefix %s, stack %s", cfg.SSMPrefix(), cfg.StackName())
	}
}

func TestFromContextNamesEveryBadKey(t *testing.T) {
	for _, tc := range []struct {
		key  string
		val  any
		want string
	}{
		{"envName", "Prod", "context envName"},
		{"domainName", "xkcd.other.org", "not in the zone"},
		{"domainName", "https://xkcd.example.com", "context domainName"},
		{"hostedZoneId", "example.com", "context hostedZoneId"},
		{"taskCpu", "300", "context taskCpu"},
		{"taskCpu", "half", "not a whole number"},
		{"taskMemoryMiB", "512", "context taskMemoryMiB"},
		{"desiredCount", "0", "context desiredCount"},
		{"maxCount", "1", "context maxCount"},
		{"multiAz", "yes please", "context multiAz"},
		{"databaseInstanceType", "db.t4g.micro", "context databaseInstanceType"},
		{"databaseStorageGiB", "5", "context databaseStorageGiB"},
		{"cacheNodeType", "t4g.micro", "context cacheNodeType"},
		{"natGateways", "0", "context natGateways"},
		{"requestsPerTarget", "50", "context requestsPerTarget"},
		{"logRetentionDays", "10", "context logRetentionDays"},
		{"databaseSslRootCert", "rds.pem", "context databaseSslRootCert"},
		{"version", "v1 beta", "context version"},
		{"version", "-X main.other=1", "context version"},
	} {
		kv := named()
		kv[tc.key] = tc.val
		_, err := FromContext(context(kv))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%v: error %v, want one saying %q", tc.key, tc.val, err, tc.want)
		}
	}
}

func TestTheNamesMustBeGiven(t *testing.T) {
	_, err := FromContext(context(map[string]any{}))
	for _, key := range []string{"domainName", "hostedZoneName", "hostedZoneId"} {
		if err == nil || !strings.Contains(err.Error(), "context "+key) {
			t.Errorf("error %v does not name %s", err, key)
		}
	}
}

func TestTheZoneApexIsAllowed(t *testing.T) {
	kv := named()
	kv["domainName"] = "example.com"
	if _, err := FromContext(context(kv)); err != nil {
		t.Error(err)
	}
}

func TestWithAccount(t *testing.T) {
	const offline = "123456789012"
	cfg := testConfig()
	cfg.Account = ""
	for _, tc := range []struct {
		name, given, credentials, zone string
		want, err                      string
	}{
		{"offline synth", "", "", placeholderZoneID, offline, ""},
		{"credentials", "", "111111111111", "Z0123456789ABCDEFGHIJ", "111111111111", ""},
		{"given wins", "222222222222", "111111111111", "Z0123456789ABCDEFGHIJ", "222222222222", ""},
		{"real account, placeholder zone", "", "111111111111", placeholderZoneID, "", "placeholders"},
		{"given account, placeholder zone", "222222222222", "", placeholderZoneID, "", "placeholders"},
	} {
		c := cfg
		c.Account, c.HostedZoneID = tc.given, tc.zone
		got, err := withAccount(c, tc.credentials, offline)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one about %s", tc.name, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err == "" && got.Account != tc.want:
			t.Errorf("%s: account %s, want %s", tc.name, got.Account, tc.want)
		}
	}
	c := cfg
	c.Region = ""
	if _, err := withAccount(c, "", offline); err == nil || !strings.Contains(err.Error(), "context region") {
		t.Errorf("no region: error %v", err)
	}
}
