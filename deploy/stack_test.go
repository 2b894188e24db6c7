package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// One synth per configuration, shared by every test: each one costs
// seconds of the jsii runtime.
var (
	outdir    string
	templates = map[string]*synthesized{}
)

func TestMain(m *testing.M) {
	// The CDK's Go bindings run its JavaScript in a node child process.
	if _, err := exec.LookPath("node"); err != nil {
		fmt.Fprintln(os.Stderr, "deploy tests need Node.js (node on PATH):", err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "xkcdapp-cdk-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	outdir = dir
	code := m.Run()
	jsii.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testConfig is the defaults with the deployment's own names filled in.
func testConfig() Config {
	c := Defaults()
	c.Account, c.Region = "123456789012", "eu-west-1"
	c.DomainName, c.HostedZoneName, c.HostedZoneID = "xkcd.example.com", "example.com", "Z0123456789ABCDEFGHIJ"
	return c
}

// bigConfig changes every parameter from its default.
func bigConfig() Config {
	c := testConfig()
	c.EnvName = "staging"
	c.DomainName = "staging.xkcd.example.com"
	c.TaskCPU, c.TaskMemoryMiB, c.Arm64 = 1024, 2048, true
	c.DesiredCount, c.MaxCount, c.RequestsPerTarget = 3, 6, 12000
	c.DatabaseInstanceType, c.DatabaseStorageGiB, c.DatabaseMaxConns = "m7g.large", 100, 20
	c.CacheNodeType = "cache.m7g.large"
	c.MultiAZ, c.NatGateways, c.DeletionProtection = true, 2, false
	c.LogRetentionDays = 90
	c.DatabaseSSLRootCert = "/certs/rds.pem"
	c.Version = "v1.2.3-4-gabcdef0"
	return c
}

type synthesized struct {
	cfg      Config
	template assertions.Template
	res      map[string]resource
	assets   string // the cloud assembly's directory
}

type resource struct {
	Type           string
	Properties     map[string]any
	DependsOn      []string
	DeletionPolicy string
}

func synth(t *testing.T, name string, cfg Config) *synthesized {
	t.Helper()
	if s, ok := templates[name]; ok {
		return s
	}
	dir := filepath.Join(outdir, name)
	app := awscdk.NewApp(&awscdk.AppProps{
		Outdir: jsii.String(dir),
		Context: &map[string]any{
			"availability-zones:account=123456789012:region=eu-west-1": []string{"eu-west-1a", "eu-west-1b", "eu-west-1c"},
		},
	})
	stack := NewStack(app, cfg)
	s := &synthesized{cfg: cfg, template: assertions.Template_FromStack(stack, nil), assets: dir}
	raw, err := json.Marshal(s.template.ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Resources map[string]resource }
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	s.res = doc.Resources
	templates[name] = s
	return s
}

func defaults(t *testing.T) *synthesized { return synth(t, "defaults", testConfig()) }
func big(t *testing.T) *synthesized      { return synth(t, "big", bigConfig()) }

// byType is every resource of one type, by logical id.
func (s *synthesized) byType(typ string) map[string]resource {
	out := map[string]resource{}
	for id, r := range s.res {
		if r.Type == typ {
			out[id] = r
		}
	}
	return out
}

// one is the only resource of typ whose id starts with prefix.
func (s *synthesized) one(t *testing.T, typ, prefix string) (string, resource) {
	t.Helper()
	var ids []string
	for id := range s.byType(typ) {
		if strings.HasPrefix(id, prefix) {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("%s %s*: want one, have %v", typ, prefix, ids)
	}
	return ids[0], s.res[ids[0]]
}

// has asserts through the assertions library, which names the closest
// resource when none matches.
func (s *synthesized) has(t *testing.T, typ string, props map[string]any) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: %v", typ, r)
		}
	}()
	s.template.HasResourceProperties(jsii.String(typ), props)
}

// str flattens a CloudFormation value to text: Fn::Join joined, Ref as
// ${id}, Fn::GetAtt as ${id.attr}, the partition as aws.
func str(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return fmt.Sprint(v)
	case bool:
		return fmt.Sprint(v)
	case map[string]any:
		if j, ok := v["Fn::Join"].([]any); ok {
			var parts []string
			for _, p := range j[1].([]any) {
				parts = append(parts, str(p))
			}
			return strings.Join(parts, j[0].(string))
		}
		if r, ok := v["Ref"].(string); ok {
			if r == "AWS::Partition" {
				return "aws"
			}
			return "${" + r + "}"
		}
		if g, ok := v["Fn::GetAtt"].([]any); ok {
			return "${" + g[0].(string) + "." + g[1].(string) + "}"
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func ref(id string) string          { return "${" + id + "}" }
func getAtt(id, attr string) string { return "${" + id + "." + attr + "}" }

func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

func strs(v any) []string {
	var out []string
	for _, x := range list(v) {
		out = append(out, str(x))
	}
	sort.Strings(out)
	return out
}

func TestHTTPSListenerWithCertificate(t *testing.T) {
	s := defaults(t)
	certID, _ := s.one(t, "AWS::CertificateManager::Certificate", "Certificate")
	tgID, _ := s.one(t, "AWS::ElasticLoadBalancingV2::TargetGroup", "Targets")
	s.has(t, "AWS::ElasticLoadBalancingV2::Listener", map[string]any{
		"Port":         443,
		"Protocol":     "HTTPS",
		"SslPolicy":    "ELBSecurityPolicy-TLS13-1-2-2021-06",
		"Certificates": []any{map[string]any{"CertificateArn": map[string]any{"Ref": certID}}},
		"DefaultActions": []any{map[string]any{
			"Type": "forward", "TargetGroupArn": map[string]any{"Ref": tgID},
		}},
	})
	// The certificate is for the app's name, validated through its zone.
	s.has(t, "AWS::CertificateManager::Certificate", map[string]any{
		"DomainName":       "xkcd.example.com",
		"ValidationMethod": "DNS",
		"DomainValidationOptions": []any{map[string]any{
			"DomainName": "xkcd.example.com", "HostedZoneId": "Z0123456789ABCDEFGHIJ",
		}},
	})
	if n := len(s.byType("AWS::ElasticLoadBalancingV2::Listener")); n != 2 {
		t.Errorf("%d listeners, want 2 (HTTPS, and HTTP that redirects)", n)
	}
}

func TestHTTPRedirectsToHTTPS(t *testing.T) {
	s := defaults(t)
	s.has(t, "AWS::ElasticLoadBalancingV2::Listener", map[string]any{
		"Port":     80,
		"Protocol": "HTTP",
		"DefaultActions": []any{map[string]any{
			"Type":           "redirect",
			"RedirectConfig": map[string]any{"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
		}},
	})
	// Nothing is served over plain HTTP.
	for id, l := range s.byType("AWS::ElasticLoadBalancingV2::Listener") {
		if l.Properties["Protocol"] == "HTTP" {
			for _, a := range list(l.Properties["DefaultActions"]) {
				if typ := a.(map[string]any)["Type"]; typ != "redirect" {
					t.Errorf("%s: HTTP listener action %v, want only redirect", id, typ)
				}
			}
		}
	}
}

func TestAliasRecordForTheDomain(t *testing.T) {
	s := defaults(t)
	albID, _ := s.one(t, "AWS::ElasticLoadBalancingV2::LoadBalancer", "LoadBalancer")
	_, rec := s.one(t, "AWS::Route53::RecordSet", "Alias")
	p := rec.Properties
	if p["Type"] != "A" || p["Name"] != "xkcd.example.com." || p["HostedZoneId"] != "Z0123456789ABCDEFGHIJ" {
		t.Errorf("record %v %v in %v, want A xkcd.example.com. in Z0123456789ABCDEFGHIJ", p["Type"], p["Name"], p["HostedZoneId"])
	}
	alias, _ := p["AliasTarget"].(map[string]any)
	if got := str(alias["DNSName"]); !strings.Contains(got, getAtt(albID, "DNSName")) {
		t.Errorf("alias target %s, want the load balancer's DNS name", got)
	}
}

func TestLoadBalancer(t *testing.T) {
	s := defaults(t)
	_, alb := s.one(t, "AWS::ElasticLoadBalancingV2::LoadBalancer", "LoadBalancer")
	if alb.Properties["Scheme"] != "internet-facing" {
		t.Errorf("scheme %v", alb.Properties["Scheme"])
	}
	attrs := map[string]string{}
	for _, a := range list(alb.Properties["LoadBalancerAttributes"]) {
		m := a.(map[string]any)
		attrs[m["Key"].(string)] = str(m["Value"])
	}
	// Live streams carry a heartbeat at least every 20 s: 60 s of silence
	// means the client is gone.
	if got := attrs["idle_timeout.timeout_seconds"]; got != "60" {
		t.Errorf("idle timeout %q, want 60", got)
	}
	if got := attrs["routing.http.drop_invalid_header_fields.enabled"]; got != "true" {
		t.Errorf("drop invalid header fields %q, want true", got)
	}
	subnets := strs(alb.Properties["Subnets"])
	if len(subnets) != 2 || !strings.Contains(subnets[0], "public") || !strings.Contains(subnets[1], "public") {
		t.Errorf("load balancer subnets %v, want the two public ones", subnets)
	}
}

func TestTargetGroupHealthCheckAndDraining(t *testing.T) {
	s := defaults(t)
	_, tg := s.one(t, "AWS::ElasticLoadBalancingV2::TargetGroup", "Targets")
	p := tg.Properties
	if p["HealthCheckPath"] != "/readyz" || str(p["Port"]) != "8000" || p["TargetType"] != "ip" || p["Protocol"] != "HTTP" {
		t.Errorf("target group %v %v %v %v, want /readyz on 8000, ip, HTTP", p["HealthCheckPath"], p["Port"], p["TargetType"], p["Protocol"])
	}
	if m, _ := p["Matcher"].(map[string]any); m["HttpCode"] != "200" {
		t.Errorf("health check codes %v, want 200 (readyz answers 503 when it cannot serve)", m["HttpCode"])
	}
	var delay string
	for _, a := range list(p["TargetGroupAttributes"]) {
		if m := a.(map[string]any); m["Key"] == "deregistration_delay.timeout_seconds" {
			delay = str(m["Value"])
		}
	}
	// Draining ends before SIGTERM; the app's own shutdown then fits in
	// Fargate's stop timeout.
	if delay != "30" {
		t.Errorf("deregistration delay %q, want 30", delay)
	}
}

// ingress is one inbound rule on a security group, wherever the template
// put it.
type ingress struct {
	group, source, cidr string
	from, to            string
}

func (s *synthesized) ingressRules() []ingress {
	var out []ingress
	for id, r := range s.byType("AWS::EC2::SecurityGroup") {
		for _, x := range list(r.Properties["SecurityGroupIngress"]) {
			m := x.(map[string]any)
			out = append(out, ingress{group: id, source: str(m["SourceSecurityGroupId"]), cidr: cidr(m), from: str(m["FromPort"]), to: str(m["ToPort"])})
		}
	}
	for _, r := range s.byType("AWS::EC2::SecurityGroupIngress") {
		m := r.Properties
		group := strings.TrimSuffix(strings.TrimPrefix(str(m["GroupId"]), "${"), ".GroupId}")
		out = append(out, ingress{group: group, source: str(m["SourceSecurityGroupId"]), cidr: cidr(m), from: str(m["FromPort"]), to: str(m["ToPort"])})
	}
	return out
}

func cidr(m map[string]any) string {
	if c, ok := m["CidrIp"]; ok {
		return str(c)
	}
	if c, ok := m["CidrIpv6"]; ok {
		return str(c)
	}
	return ""
}

func TestSecurityGroupRules(t *testing.T) {
	s := defaults(t)
	alb, _ := s.one(t, "AWS::EC2::SecurityGroup", "AlbSecurityGroup")
	svc, _ := s.one(t, "AWS::EC2::SecurityGroup", "ServiceSecurityGroup")
	db, _ := s.one(t, "AWS::EC2::SecurityGroup", "DatabaseSecurityGroup")
	cache, _ := s.one(t, "AWS::EC2::SecurityGroup", "CacheSecurityGroup")
	want := map[string][]string{
		alb:   {"0.0.0.0/0 443-443", "0.0.0.0/0 80-80"},
		svc:   {getAtt(alb, "GroupId") + " 8000-8000"},
		db:    {getAtt(svc, "GroupId") + " 5432-5432"},
		cache: {getAtt(svc, "GroupId") + " 6379-6379"},
	}
	got := map[string][]string{}
	for _, r := range s.ingressRules() {
		from := r.source
		if r.cidr != "" {
			from = r.cidr
		}
		got[r.group] = append(got[r.group], from+" "+r.from+"-"+r.to)
	}
	for g := range want {
		sort.Strings(want[g])
		sort.Strings(got[g])
		if !slices.Equal(got[g], want[g]) {
			t.Errorf("%s ingress %v, want %v", g, got[g], want[g])
		}
	}
	if len(got) != len(want) {
		t.Errorf("ingress on groups %v, want only the four", got)
	}
	// The internet reaches the load balancer and nothing else.
	for _, r := range s.ingressRules() {
		if r.cidr != "" && r.group != alb {
			t.Errorf("%s admits %s: only the load balancer is open to addresses", r.group, r.cidr)
		}
	}
	// Postgres and Redis send nothing anywhere; the load balancer only to
	// the tasks.
	for _, g := range []string{db, cache, alb} {
		for _, e := range list(s.res[g].Properties["SecurityGroupEgress"]) {
			if c := cidr(e.(map[string]any)); c != "255.255.255.255/32" {
				t.Errorf("%s: egress to %s", g, c)
			}
		}
	}
	var albEgress []string
	for _, r := range s.byType("AWS::EC2::SecurityGroupEgress") {
		albEgress = append(albEgress, str(r.Properties["GroupId"])+" -> "+str(r.Properties["DestinationSecurityGroupId"])+" "+str(r.Properties["FromPort"]))
	}
	if w := []string{getAtt(alb, "GroupId") + " -> " + getAtt(svc, "GroupId") + " 8000"}; !slices.Equal(albEgress, w) {
		t.Errorf("egress rules %v, want %v", albEgress, w)
	}
}

func TestGroupsAreWhereTheyBelong(t *testing.T) {
	s := defaults(t)
	svc, _ := s.one(t, "AWS::EC2::SecurityGroup", "ServiceSecurityGroup")
	db, _ := s.one(t, "AWS::EC2::SecurityGroup", "DatabaseSecurityGroup")
	cache, _ := s.one(t, "AWS::EC2::SecurityGroup", "CacheSecurityGroup")
	alb, _ := s.one(t, "AWS::EC2::SecurityGroup", "AlbSecurityGroup")
	check := func(typ, prefix, key, group string) {
		t.Helper()
		_, r := s.one(t, typ, prefix)
		v := r.Properties[key]
		if typ == "AWS::ECS::Service" {
			v = v.(map[string]any)["AwsvpcConfiguration"].(map[string]any)["SecurityGroups"]
		}
		if got := strs(v); !slices.Equal(got, []string{getAtt(group, "GroupId")}) {
			t.Errorf("%s security groups %v, want only %s", typ, got, group)
		}
	}
	check("AWS::ECS::Service", "Service", "NetworkConfiguration", svc)
	check("AWS::RDS::DBInstance", "Database", "VPCSecurityGroups", db)
	check("AWS::ElastiCache::ReplicationGroup", "Cache", "SecurityGroupIds", cache)
	check("AWS::ElasticLoadBalancingV2::LoadBalancer", "LoadBalancer", "SecurityGroups", alb)
}

func TestNetwork(t *testing.T) {
	for _, s := range []*synthesized{defaults(t), big(t)} {
		subnets := s.byType("AWS::EC2::Subnet")
		zones := map[string]bool{}
		public := 0
		for _, sn := range subnets {
			zones[str(sn.Properties["AvailabilityZone"])] = true
			if sn.Properties["MapPublicIpOnLaunch"] == true {
				public++
			}
		}
		if len(subnets) != 6 || len(zones) != 2 || public != 2 {
			t.Errorf("%d subnets in zones %v, %d public; want 6 in two zones, 2 public", len(subnets), zones, public)
		}
		if n := len(s.byType("AWS::EC2::NatGateway")); n != s.cfg.NatGateways {
			t.Errorf("%d NAT gateways, want %d", n, s.cfg.NatGateways)
		}
		s.has(t, "AWS::EC2::VPCEndpoint", map[string]any{"VpcEndpointType": "Gateway"})
		// Tasks never get a public address; Postgres and Redis sit in
		// subnets with no route out.
		_, svc := s.one(t, "AWS::ECS::Service", "Service")
		vpcConf := svc.Properties["NetworkConfiguration"].(map[string]any)["AwsvpcConfiguration"].(map[string]any)
		if vpcConf["AssignPublicIp"] != "DISABLED" {
			t.Errorf("tasks get a public IP")
		}
		for _, sn := range strs(vpcConf["Subnets"]) {
			if !strings.Contains(sn, "app") {
				t.Errorf("task subnet %s, want the private app subnets", sn)
			}
		}
		_, dbSubnets := s.one(t, "AWS::RDS::DBSubnetGroup", "DatabaseSubnetGroup")
		_, cacheSubnets := s.one(t, "AWS::ElastiCache::SubnetGroup", "CacheSubnets")
		for _, sn := range append(strs(dbSubnets.Properties["SubnetIds"]), strs(cacheSubnets.Properties["SubnetIds"])...) {
			if !strings.Contains(sn, "data") {
				t.Errorf("data subnet %s, want the isolated ones", sn)
			}
		}
		for id := range s.byType("AWS::EC2::Route") {
			if strings.Contains(id, "data") {
				t.Errorf("isolated subnet has route %s", id)
			}
		}
	}
}

func TestDatabase(t *testing.T) {
	for _, s := range []*synthesized{defaults(t), big(t)} {
		id, db := s.one(t, "AWS::RDS::DBInstance", "Database")
		p := db.Properties
		want := map[string]string{
			"Engine":                  "postgres",
			"StorageEncrypted":        "true",
			"BackupRetentionPeriod":   "7",
			"MultiAZ":                 fmt.Sprint(s.cfg.MultiAZ),
			"DBInstanceClass":         "db." + s.cfg.DatabaseInstanceType,
			"AllocatedStorage":        fmt.Sprint(s.cfg.DatabaseStorageGiB),
			"DeletionProtection":      fmt.Sprint(s.cfg.DeletionProtection),
			"PubliclyAccessible":      "false",
			"DBName":                  "xkcdapp",
			"MasterUsername":          "xkcdapp",
			"CACertificateIdentifier": "rds-ca-rsa2048-g1",
		}
		for k, v := range want {
			if got := str(p[k]); got != v {
				t.Errorf("%s %s = %s, want %s", id, k, got, v)
			}
		}
		if db.DeletionPolicy != "Snapshot" {
			t.Errorf("deletion policy %q, want Snapshot", db.DeletionPolicy)
		}
		if pw := str(p["MasterUserPassword"]); !strings.HasPrefix(pw, "{{resolve:secretsmanager:") {
			t.Errorf("master password %s, want a Secrets Manager reference", pw)
		}
		s.has(t, "AWS::RDS::DBParameterGroup", map[string]any{"Parameters": map[string]any{"rds.force_ssl": "1"}})
	}
}

func TestCache(t *testing.T) {
	for _, s := range []*synthesized{defaults(t), big(t)} {
		nodes := 1
		if s.cfg.MultiAZ {
			nodes = 2
		}
		tokenID, _ := s.one(t, "AWS::SecretsManager::Secret", "CacheToken")
		s.has(t, "AWS::ElastiCache::ReplicationGroup", map[string]any{
			"Engine":                   "redis",
			"CacheNodeType":            s.cfg.CacheNodeType,
			"TransitEncryptionEnabled": true,
			"AtRestEncryptionEnabled":  true,
			"NumCacheClusters":         nodes,
			"AutomaticFailoverEnabled": s.cfg.MultiAZ,
			"MultiAZEnabled":           s.cfg.MultiAZ,
			"Port":                     6379,
		})
		_, cache := s.one(t, "AWS::ElastiCache::ReplicationGroup", "Cache")
		if got, want := str(cache.Properties["AuthToken"]), "{{resolve:secretsmanager:"+ref(tokenID)+":SecretString:::}}"; got != want {
			t.Errorf("AUTH token %s, want %s", got, want)
		}
	}
}

func TestServiceDeployment(t *testing.T) {
	for _, s := range []*synthesized{defaults(t), big(t)} {
		s.has(t, "AWS::ECS::Service", map[string]any{
			"LaunchType":   "FARGATE",
			"DesiredCount": assertions.Match_Absent(),
			"DeploymentConfiguration": assertions.Match_ObjectLike(&map[string]any{
				"DeploymentCircuitBreaker": map[string]any{"Enable": true, "Rollback": true},
				"MinimumHealthyPercent":    100,
				"MaximumPercent":           200,
			}),
			"HealthCheckGracePeriodSeconds": 60,
			"LoadBalancers": []any{assertions.Match_ObjectLike(&map[string]any{
				"ContainerName": "app", "ContainerPort": 8000,
			})},
		})
		// Every setting exists before the first task starts.
		_, svc := s.one(t, "AWS::ECS::Service", "Service")
		for _, p := range []string{"DatabasePasswordParameter", "RedisUrlParameter", "DatabaseHostParameter", "DatabasePortParameter"} {
			if !slices.ContainsFunc(svc.DependsOn, func(d string) bool { return strings.HasPrefix(d, p) }) {
				t.Errorf("service does not wait for %s: %v", p, svc.DependsOn)
			}
		}
	}
}

func TestTaskDefinition(t *testing.T) {
	for _, s := range []*synthesized{defaults(t), big(t)} {
		logsID, _ := s.one(t, "AWS::Logs::LogGroup", "Logs")
		arch := "X86_64"
		if s.cfg.Arm64 {
			arch = "ARM64"
		}
		_, task := s.one(t, "AWS::ECS::TaskDefinition", "Task")
		p := task.Properties
		if str(p["Cpu"]) != fmt.Sprint(s.cfg.TaskCPU) || str(p["Memory"]) != fmt.Sprint(s.cfg.TaskMemoryMiB) {
			t.Errorf("task size %v/%v, want %d/%d", p["Cpu"], p["Memory"], s.cfg.TaskCPU, s.cfg.TaskMemoryMiB)
		}
		if got := p["RuntimePlatform"].(map[string]any)["CpuArchitecture"]; got != arch {
			t.Errorf("architecture %v, want %s", got, arch)
		}
		containers := list(p["ContainerDefinitions"])
		if len(containers) != 1 {
			t.Fatalf("%d containers", len(containers))
		}
		c := containers[0].(map[string]any)
		env := map[string]string{}
		for _, e := range list(c["Environment"]) {
			m := e.(map[string]any)
			env[m["Name"].(string)] = str(m["Value"])
		}
		want := map[string]string{
			"SSM_PREFIX":           "/xkcdapp/" + s.cfg.EnvName + "/",
			"AWS_REGION":           "eu-west-1",
			"DATABASE_SSLMODE":     "verify-full",
			"DATABASE_SSLROOTCERT": s.cfg.DatabaseSSLRootCert,
			"DATABASE_MAX_CONNS":   fmt.Sprint(s.cfg.DatabaseMaxConns),
			"LOG_FORMAT":           "json",
			"GOMEMLIMIT":           fmt.Sprintf("%dMiB", s.cfg.TaskMemoryMiB*4/5),
		}
		if !maps.Equal(env, want) {
			t.Errorf("environment %v, want %v (secrets come from SSM, never the task definition)", env, want)
		}
		if c["Secrets"] != nil {
			t.Errorf("container secrets %v: the app reads them from SSM itself", c["Secrets"])
		}
		if str(c["StopTimeout"]) != "30" || c["ReadonlyRootFilesystem"] != true || c["Essential"] != true {
			t.Errorf("stop timeout %v, read-only root %v, essential %v; want 30, true, true", c["StopTimeout"], c["ReadonlyRootFilesystem"], c["Essential"])
		}
		ports := list(c["PortMappings"])
		if len(ports) != 1 || str(ports[0].(map[string]any)["ContainerPort"]) != "8000" {
			t.Errorf("ports %v, want 8000", ports)
		}
		logConf := c["LogConfiguration"].(map[string]any)
		if logConf["LogDriver"] != "awslogs" || str(logConf["Options"].(map[string]any)["awslogs-group"]) != ref(logsID) {
			t.Errorf("logging %v, want awslogs to %s", logConf, logsID)
		}
		if img := str(c["Image"]); !strings.Contains(img, "cdk-hnb659fds-container-assets-123456789012-eu-west-1") {
			t.Errorf("image %s, want the CDK asset repository", img)
		}
	}
}

func TestImageIsBuiltFromTheRepository(t *testing.T) {
	for _, s := range []*synthesized{defaults(t), big(t)} {
		raw, err := os.ReadFile(filepath.Join(s.assets, s.cfg.StackName()+".assets.json"))
		if err != nil {
			t.Fatal(err)
		}
		var manifest struct {
			DockerImages map[string]struct {
				Source struct {
					Directory, Platform string
					DockerBuildArgs     map[string]string
				}
			}
		}
		if err := json.Unmarshal(raw, &manifest); err != nil {
			t.Fatal(err)
		}
		if len(manifest.DockerImages) != 1 {
			t.Fatalf("%d images, want 1", len(manifest.DockerImages))
		}
		platform := "linux/amd64"
		if s.cfg.Arm64 {
			platform = "linux/arm64"
		}
		for _, img := range manifest.DockerImages {
			if img.Source.Platform != platform {
				t.Errorf("image platform %s, want %s", img.Source.Platform, platform)
			}
			// The version the app reports (logs, User-Agent): the image's
			// build context has no .git to read it from.
			if v, ok := img.Source.DockerBuildArgs["VERSION"]; s.cfg.Version == "" && ok {
				t.Errorf("build argument VERSION=%q without a version in the context, want none (the Dockerfile's default)", v)
			} else if s.cfg.Version != "" && v != s.cfg.Version {
				t.Errorf("build argument VERSION=%q, want %q", v, s.cfg.Version)
			}
			dir := filepath.Join(s.assets, img.Source.Directory)
			for _, f := range []string{"Dockerfile", "go.mod", "cmd/xkcdapp"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Errorf("build context lacks %s: %v", f, err)
				}
			}
			// The deployment itself (with cdk.out and node_modules) and
			// the repository's history stay out of the build context.
			for _, f := range []string{"deploy", ".git", "docs"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
					t.Errorf("build context holds %s", f)
				}
			}
		}
	}
}

func TestSecureParameterCodeIsTheHandler(t *testing.T) {
	s := defaults(t)
	raw, err := os.ReadFile(filepath.Join(s.assets, s.cfg.StackName()+".assets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		Files map[string]struct {
			DisplayName string
			Source      struct{ Path string }
		}
	}
	if err := json.Unmarshal(raw, &manifest); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range manifest.Files {
		if f.DisplayName != "SecureParameterFunction/Code" {
			continue
		}
		found = true
		entries, err := os.ReadDir(filepath.Join(s.assets, f.Source.Path))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if want := []string{"handler.mjs", "index.mjs"}; !slices.Equal(names, want) {
			t.Errorf("Lambda bundle %v, want %v", names, want)
		}
	}
	if !found {
		t.Error("no Lambda bundle for the secure parameters")
	}
	s.has(t, "AWS::Lambda::Function", map[string]any{"Handler": "index.handler", "Runtime": "nodejs22.x"})
}

func TestAutoscaling(t *testing.T) {
	for _, s := range []*synthesized{defaults(t), big(t)} {
		s.has(t, "AWS::ApplicationAutoScaling::ScalableTarget", map[string]any{
			"MinCapacity":       s.cfg.DesiredCount,
			"MaxCapacity":       s.cfg.MaxCount,
			"ScalableDimension": "ecs:service:DesiredCount",
			"ServiceNamespace":  "ecs",
		})
		s.has(t, "AWS::ApplicationAutoScaling::ScalingPolicy", map[string]any{
			"PolicyType": "TargetTrackingScaling",
			"TargetTrackingScalingPolicyConfiguration": assertions.Match_ObjectLike(&map[string]any{
				"PredefinedMetricSpecification": map[string]any{"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
				"TargetValue":                   60,
			}),
		})
		s.has(t, "AWS::ApplicationAutoScaling::ScalingPolicy", map[string]any{
			"PolicyType": "TargetTrackingScaling",
			"TargetTrackingScalingPolicyConfiguration": assertions.Match_ObjectLike(&map[string]any{
				"PredefinedMetricSpecification": assertions.Match_ObjectLike(&map[string]any{"PredefinedMetricType": "ALBRequestCountPerTarget"}),
				"TargetValue":                   s.cfg.RequestTarget(),
				"ScaleOutCooldown":              60,
				"ScaleInCooldown":               300,
			}),
		})
		if n := len(s.byType("AWS::ApplicationAutoScaling::ScalingPolicy")); n != 2 {
			t.Errorf("%d scaling policies, want 2", n)
		}
	}
	// By default, 3 requests a second per CPU unit of the task.
	defaults(t).has(t, "AWS::ApplicationAutoScaling::ScalingPolicy", map[string]any{
		"TargetTrackingScalingPolicyConfiguration": assertions.Match_ObjectLike(&map[string]any{"TargetValue": 512 * 3 * 60}),
	})
}

func TestLogRetention(t *testing.T) {
	for _, s := range []*synthesized{defaults(t), big(t)} {
		_, app := s.one(t, "AWS::Logs::LogGroup", "Logs")
		if str(app.Properties["RetentionInDays"]) != fmt.Sprint(s.cfg.LogRetentionDays) || app.Properties["LogGroupName"] != "/xkcdapp/"+s.cfg.EnvName {
			t.Errorf("app logs %v kept %v days, want /xkcdapp/%s for %d", app.Properties["LogGroupName"], app.Properties["RetentionInDays"], s.cfg.EnvName, s.cfg.LogRetentionDays)
		}
		if app.DeletionPolicy != "Retain" {
			t.Errorf("app logs deletion policy %q, want Retain: they outlive a teardown", app.DeletionPolicy)
		}
		for id, lg := range s.byType("AWS::Logs::LogGroup") {
			if lg.Properties["RetentionInDays"] == nil {
				t.Errorf("%s is kept forever", id)
			}
		}
		// Every Lambda logs to a group the stack owns, so none is left
		// behind with no retention.
		for id, fn := range s.byType("AWS::Lambda::Function") {
			if fn.Properties["LoggingConfig"] == nil {
				t.Errorf("%s logs to a group the stack does not own", id)
			}
		}
	}
}

// statements is every statement of the IAM policies attached to role.
func (s *synthesized) statements(roleID string) []map[string]any {
	var out []map[string]any
	for _, p := range s.byType("AWS::IAM::Policy") {
		if !slices.Contains(strs(p.Properties["Roles"]), ref(roleID)) {
			continue
		}
		for _, st := range list(p.Properties["PolicyDocument"].(map[string]any)["Statement"]) {
			out = append(out, st.(map[string]any))
		}
	}
	return out
}

func TestTaskRoleReadsOnlyItsPrefix(t *testing.T) {
	for _, s := range []*synthesized{defaults(t), big(t)} {
		env := s.cfg.EnvName
		roleID, role := s.one(t, "AWS::IAM::Role", "TaskRole")
		keyID, _ := s.one(t, "AWS::KMS::Key", "SettingsKey")
		if role.Properties["ManagedPolicyArns"] != nil || role.Properties["Policies"] != nil {
			t.Errorf("task role has more policies: %v %v", role.Properties["ManagedPolicyArns"], role.Properties["Policies"])
		}
		var got []string
		for _, st := range s.statements(roleID) {
			cond := ""
			if c, ok := st["Condition"]; ok {
				cond = " if " + str(c)
			}
			got = append(got, fmt.Sprintf("%s %s %v%s", st["Effect"], strings.Join(strs(st["Action"]), ","), strs(st["Resource"]), cond))
		}
		arn := "arn:aws:ssm:eu-west-1:123456789012:parameter/xkcdapp/" + env
		want := []string{
			fmt.Sprintf("Allow ssm:GetParametersByPath %v", []string{arn, arn + "/*"}),
			fmt.Sprintf(`Allow kms:Decrypt %v if {"StringEquals":{"kms:ViaService":"ssm.eu-west-1.amazonaws.com"}}`, []string{getAtt(keyID, "Arn")}),
		}
		if !slices.Equal(got, want) {
			t.Errorf("task role may\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
}

func TestSettingsInSSM(t *testing.T) {
	for _, s := range []*synthesized{defaults(t), big(t)} {
		prefix := s.cfg.SSMPrefix()
		dbID, _ := s.one(t, "AWS::RDS::DBInstance", "Database")
		cacheID, _ := s.one(t, "AWS::ElastiCache::ReplicationGroup", "Cache")
		tokenID, _ := s.one(t, "AWS::SecretsManager::Secret", "CacheToken")
		attachID, _ := s.one(t, "AWS::SecretsManager::SecretTargetAttachment", "DatabaseSecretAttachment")
		keyID, _ := s.one(t, "AWS::KMS::Key", "SettingsKey")
		plain := map[string]string{}
		for _, p := range s.byType("AWS::SSM::Parameter") {
			if p.Properties["Type"] != "String" {
				t.Errorf("%v is %v", p.Properties["Name"], p.Properties["Type"])
			}
			plain[str(p.Properties["Name"])] = str(p.Properties["Value"])
		}
		want := map[string]string{
			prefix + "DATABASE_HOST": getAtt(dbID, "Endpoint.Address"),
			prefix + "DATABASE_PORT": getAtt(dbID, "Endpoint.Port"),
			prefix + "DATABASE_NAME": "xkcdapp",
			prefix + "DATABASE_USER": "xkcdapp",
		}
		if !maps.Equal(plain, want) {
			t.Errorf("String parameters %v, want %v", plain, want)
		}
		secure := map[string]string{}
		for _, p := range s.byType("Custom::SecureParameter") {
			if str(p.Properties["KeyId"]) != getAtt(keyID, "Arn") {
				t.Errorf("%v encrypted with %v, want the settings key", p.Properties["Name"], p.Properties["KeyId"])
			}
			secure[str(p.Properties["Name"])] = str(p.Properties["SecretArn"]) + " " + str(p.Properties["SecretField"]) + " " + str(p.Properties["Template"])
		}
		wantSecure := map[string]string{
			prefix + "DATABASE_PASSWORD": ref(attachID) + " password ",
			prefix + "REDIS_URL":         ref(tokenID) + "  rediss://:{{secret}}@" + getAtt(cacheID, "PrimaryEndPoint.Address") + ":" + getAtt(cacheID, "PrimaryEndPoint.Port"),
		}
		if !maps.Equal(secure, wantSecure) {
			t.Errorf("SecureString parameters %v, want %v", secure, wantSecure)
		}
		// The copying Lambda may write only under the prefix and read only
		// the two secrets.
		fnRole, _ := s.one(t, "AWS::IAM::Role", "SecureParameterFunctionServiceRole")
		var writes, reads []string
		for _, st := range s.statements(fnRole) {
			actions := strs(st["Action"])
			switch {
			case slices.Contains(actions, "ssm:PutParameter"):
				writes = append(writes, strs(st["Resource"])...)
			case slices.Contains(actions, "secretsmanager:GetSecretValue"):
				reads = append(reads, strs(st["Resource"])...)
			}
			for _, r := range strs(st["Resource"]) {
				if r == "*" {
					t.Errorf("secure parameter function may %v on everything", actions)
				}
			}
		}
		sort.Strings(reads)
		if w := []string{"arn:aws:ssm:eu-west-1:123456789012:parameter" + prefix + "*"}; !slices.Equal(writes, w) {
			t.Errorf("secure parameter function writes %v, want %v", writes, w)
		}
		if w := []string{ref(tokenID), ref(attachID)}; !slices.Equal(reads, w) {
			t.Errorf("secure parameter function reads %v, want %v", reads, w)
		}
	}
}

func TestSettingsKey(t *testing.T) {
	s := big(t)
	s.has(t, "AWS::KMS::Key", map[string]any{"EnableKeyRotation": true})
	s.has(t, "AWS::KMS::Alias", map[string]any{"AliasName": "alias/xkcdapp/staging/settings"})
}

func TestNoSecretsInTheTemplate(t *testing.T) {
	// Secrets reach resources only as references resolved by
	// CloudFormation or the copying Lambda.
	s := defaults(t)
	raw, err := json.Marshal(s.template.ToJSON())
	if err != nil {
		t.Fatal(err)
	}
	for _, word := range []string{"MasterUserPassword\":\"", "AuthToken\":\""} {
		if strings.Contains(string(raw), word) {
			t.Errorf("template holds %s", word)
		}
	}
	_, task := s.one(t, "AWS::ECS::TaskDefinition", "Task")
	b, _ := json.Marshal(task.Properties)
	for _, word := range []string{"PASSWORD", "REDIS_URL", "resolve:secretsmanager"} {
		if strings.Contains(string(b), word) {
			t.Errorf("task definition mentions %s", word)
		}
	}
}

func TestOutputsForOneOffTasks(t *testing.T) {
	s := defaults(t)
	defer func() {
		if r := recover(); r != nil {
			t.Error(r)
		}
	}()
	for _, o := range []string{"Url", "ClusterName", "ServiceName", "TaskDefinitionArn", "TaskSubnets", "TaskSecurityGroup", "SettingsPrefix", "LoadBalancerDns"} {
		s.template.HasOutput(jsii.String(o), map[string]any{})
	}
	s.template.HasOutput(jsii.String("Url"), map[string]any{"Value": "https://xkcd.example.com/"})
}
