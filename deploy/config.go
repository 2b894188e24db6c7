package main

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Config is every choice a deployment makes. Each field is a CDK context
// key (cdk.json, or -c key=value on the command line).
type Config struct {
	Account string // AWS account; CDK_DEFAULT_ACCOUNT when empty
	Region  string // AWS region; CDK_DEFAULT_REGION when empty
	EnvName string // names the stack and the SSM prefix /xkcdapp/<envName>/

	DomainName     string // the app's own name, e.g. xkcd.example.com
	HostedZoneID   string // the Route53 zone that holds DomainName
	HostedZoneName string // that zone's name, e.g. example.com

	TaskCPU           int  // Fargate CPU units: 256, 512, 1024, 2048 or 4096
	TaskMemoryMiB     int  // within what Fargate allows for TaskCPU
	Arm64             bool // Graviton tasks: about 20% cheaper; the image is then built for linux/arm64
	DesiredCount      int  // tasks at deploy time, and the floor of autoscaling
	MaxCount          int  // the ceiling of autoscaling
	RequestsPerTarget int  // per task per minute: the request-count scaling target; 0: RequestTarget's default

	DatabaseInstanceType string // e.g. t4g.micro
	DatabaseStorageGiB   int
	DatabaseMaxConns     int    // per task: MaxCount of them must fit the instance's max_connections
	CacheNodeType        string // e.g. cache.t4g.micro
	MultiAZ              bool   // a standby database and a Redis replica in the other zone
	NatGateways          int    // 1 is cheapest; 2 survives the loss of a zone
	DeletionProtection   bool   // on the database; turn it off before a teardown

	LogRetentionDays    int
	DatabaseSSLRootCert string // path, inside the image, of the RDS CA bundle

	ImageDir string // the build context of the Dockerfile: the repository
	// Version is stamped into the image (its VERSION build argument), for
	// the app's logs and User-Agent; "" leaves the Dockerfile's "dev".
	Version string
}

// Defaults are the smallest production: two 0.5 vCPU tasks, a micro
// database and cache in one zone, one NAT gateway.
func Defaults() Config {
	return Config{
		EnvName:              "prod",
		TaskCPU:              512,
		TaskMemoryMiB:        1024,
		DesiredCount:         2,
		MaxCount:             10,
		DatabaseInstanceType: "t4g.micro",
		DatabaseStorageGiB:   20,
		DatabaseMaxConns:     6,
		CacheNodeType:        "cache.t4g.micro",
		NatGateways:          1,
		DeletionProtection:   true,
		LogRetentionDays:     30,
		DatabaseSSLRootCert:  "/etc/ssl/rds/global-bundle.pem",
		ImageDir:             "..",
	}
}

// Context reads one key of CDK context; nil when it is not set.
type Context func(key string) any

// FromContext overlays the keys that are set on the defaults.
func FromContext(get Context) (Config, error) {
	c := Defaults()
	var errs []error
	str := func(key string, dst *string) {
		if v := get(key); v != nil {
			*dst = strings.TrimSpace(fmt.Sprint(v))
		}
	}
	num := func(key string, dst *int) {
		v := get(key)
		if v == nil {
			return
		}
		n, err := strconv.Atoi(strings.TrimSpace(fmt.Sprint(v)))
		if err != nil {
			errs = append(errs, fmt.Errorf("context %s: %q is not a whole number", key, fmt.Sprint(v)))
			return
		}
		*dst = n
	}
	flag := func(key string, dst *bool) {
		v := get(key)
		if v == nil {
			return
		}
		b, err := strconv.ParseBool(strings.TrimSpace(fmt.Sprint(v)))
		if err != nil {
			errs = append(errs, fmt.Errorf("context %s: %q is not true or false", key, fmt.Sprint(v)))
			return
		}
		*dst = b
	}
	str("account", &c.Account)
	str("region", &c.Region)
	str("envName", &c.EnvName)
	str("domainName", &c.DomainName)
	str("hostedZoneId", &c.HostedZoneID)
	str("hostedZoneName", &c.HostedZoneName)
	num("taskCpu", &c.TaskCPU)
	num("taskMemoryMiB", &c.TaskMemoryMiB)
	flag("arm64", &c.Arm64)
	num("desiredCount", &c.DesiredCount)
	num("maxCount", &c.MaxCount)
	num("requestsPerTarget", &c.RequestsPerTarget)
	str("databaseInstanceType", &c.DatabaseInstanceType)
	num("databaseStorageGiB", &c.DatabaseStorageGiB)
	num("databaseMaxConns", &c.DatabaseMaxConns)
	str("cacheNodeType", &c.CacheNodeType)
	flag("multiAz", &c.MultiAZ)
	num("natGateways", &c.NatGateways)
	flag("deletionProtection", &c.DeletionProtection)
	num("logRetentionDays", &c.LogRetentionDays)
	str("databaseSslRootCert", &c.DatabaseSSLRootCert)
	str("version", &c.Version)
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	return c, c.Validate()
}

var (
	envNamePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,19}$`)
	dnsPattern     = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
	zoneIDPattern  = regexp.MustCompile(`^Z[A-Z0-9]{1,31}$`)
	// One word of the linker's flags: git describe's output fits.
	versionPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$`)
)

// fargateMemory is the memory each Fargate CPU size allows, in MiB.
var fargateMemory = map[int]func(int) bool{
	256:  func(m int) bool { return m == 512 || m == 1024 || m == 2048 },
	512:  func(m int) bool { return m >= 1024 && m <= 4096 && m%1024 == 0 },
	1024: func(m int) bool { return m >= 2048 && m <= 8192 && m%1024 == 0 },
	2048: func(m int) bool { return m >= 4096 && m <= 16384 && m%1024 == 0 },
	4096: func(m int) bool { return m >= 8192 && m <= 30720 && m%1024 == 0 },
}

// Validate names every setting that cannot be deployed.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("context %s: %s", key, fmt.Sprintf(format, a...)))
	}
	if !envNamePattern.MatchString(c.EnvName) {
		bad("envName", "%q is not lower-case letters, digits and dashes (at most 20)", c.EnvName)
	}
	if !dnsPattern.MatchString(c.DomainName) {
		bad("domainName", "%q is not a lower-case DNS name (e.g. xkcd.example.com)", c.DomainName)
	}
	if !dnsPattern.MatchString(c.HostedZoneName) {
		bad("hostedZoneName", "%q is not a lower-case DNS name (e.g. example.com)", c.HostedZoneName)
	} else if c.DomainName != c.HostedZoneName && !strings.HasSuffix(c.DomainName, "."+c.HostedZoneName) {
		bad("domainName", "%q is not in the zone %q", c.DomainName, c.HostedZoneName)
	}
	if !zoneIDPattern.MatchString(c.HostedZoneID) {
		bad("hostedZoneId", "%q is not a Route53 zone id (e.g. Z0123456789ABCDEFGHIJ)", c.HostedZoneID)
	}
	if ok, known := fargateMemory[c.TaskCPU]; !known {
		bad("taskCpu", "%d is not a Fargate size: 256, 512, 1024, 2048 or 4096", c.TaskCPU)
	} else if !ok(c.TaskMemoryMiB) {
		bad("taskMemoryMiB", "%d MiB is not allowed with %d CPU units on Fargate", c.TaskMemoryMiB, c.TaskCPU)
	}
	if c.DesiredCount < 1 {
		bad("desiredCount", "%d: at least 1 task", c.DesiredCount)
	}
	if c.MaxCount < c.DesiredCount || c.MaxCount > 100 {
		bad("maxCount", "%d: from desiredCount (%d) to 100", c.MaxCount, c.DesiredCount)
	}
	if c.RequestsPerTarget != 0 && c.RequestsPerTarget < 100 {
		bad("requestsPerTarget", "%d: at least 100 requests a minute (or 0 for the default)", c.RequestsPerTarget)
	}
	if c.DatabaseInstanceType == "" || strings.HasPrefix(c.DatabaseInstanceType, "db.") {
		bad("databaseInstanceType", "%q: give the class without db., e.g. t4g.micro", c.DatabaseInstanceType)
	}
	if c.DatabaseStorageGiB < 20 || c.DatabaseStorageGiB > 65536 {
		bad("databaseStorageGiB", "%d: from 20 to 65536", c.DatabaseStorageGiB)
	}
	if c.DatabaseMaxConns < 2 || c.DatabaseMaxConns > 1000 {
		bad("databaseMaxConns", "%d: from 2 to 1000", c.DatabaseMaxConns)
	}
	if !strings.HasPrefix(c.CacheNodeType, "cache.") {
		bad("cacheNodeType", "%q: e.g. cache.t4g.micro", c.CacheNodeType)
	}
	if c.NatGateways < 1 || c.NatGateways > 2 {
		bad("natGateways", "%d: 1 or 2 (one per zone)", c.NatGateways)
	}
	if !logRetentionDays[c.LogRetentionDays] {
		bad("logRetentionDays", "%d is not a CloudWatch retention (1, 3, 5, 7, 14, 30, 60, 90, 180, 365, ...)", c.LogRetentionDays)
	}
	if !strings.HasPrefix(c.DatabaseSSLRootCert, "/") {
		bad("databaseSslRootCert", "%q is not an absolute path in the image", c.DatabaseSSLRootCert)
	}
	if c.Version != "" && !versionPattern.MatchString(c.Version) {
		bad("version", "%q is not a version such as git describe prints (letters, digits, . _ + -)", c.Version)
	}
	return errors.Join(errs...)
}

// logRetentionDays are the periods CloudWatch Logs accepts.
var logRetentionDays = map[int]bool{
	1: true, 3: true, 5: true, 7: true, 14: true, 30: true, 60: true, 90: true,
	120: true, 150: true, 180: true, 365: true, 400: true, 545: true, 731: true,
	1096: true, 1827: true, 2192: true, 2557: true, 2922: true, 3288: true, 3653: true,
}

// RequestTarget is the requests per task per minute that the request-count
// policy aims at: RequestsPerTarget, or by default 3 a second per CPU unit
// (1,536 a second for 0.5 vCPU). Under a 0.5-CPU quota the app served
// about 3,300-3,700 new visitors a second locally (deploy/tasksize.sh),
// some 7 per CPU unit; less about a fifth for TLS to Postgres and Redis,
// and 60% of that, to act before CPU runs short.
func (c Config) RequestTarget() int {
	if c.RequestsPerTarget > 0 {
		return c.RequestsPerTarget
	}
	return c.TaskCPU * 3 * 60
}

// SSMPrefix is where the app's settings live: /xkcdapp/<envName>/.
func (c Config) SSMPrefix() string { return "/xkcdapp/" + c.EnvName + "/" }

// StackName is the CloudFormation stack's name.
func (c Config) StackName() string { return "Xkcdapp-" + c.EnvName }
