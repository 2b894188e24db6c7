package container

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/xkcdapp/xkcdapp/config"
)

// The deploy module (deploy/, AWS CDK) is its own Go module, with a
// dependency tree the app does not share; these tests read its source
// rather than import it, and check what the task it defines hands the
// app: every variable and SSM parameter name one the app reads, the RDS
// bundle where the image puts it, the app's port and health check.

// parseDeploy parses one file of the deploy module.
func parseDeploy(t *testing.T, name string) *ast.File {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, "deploy", name), nil, 0)
	if err != nil {
		t.Fatalf("parse deploy/%s: %v", name, err)
	}
	return f
}

// stringLit is the value of a string literal, or "" and false.
func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// jsiiString is the literal inside jsii.String("..."), or a plain literal.
func jsiiString(e ast.Expr) (string, bool) {
	if call, ok := e.(*ast.CallExpr); ok && len(call.Args) == 1 {
		if sel, ok := call.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "String" {
			return stringLit(call.Args[0])
		}
	}
	return stringLit(e)
}

// fieldValues are the values given to every composite literal field
// called name, in f.
func fieldValues(f ast.Node, name string) []ast.Expr {
	var found []ast.Expr
	ast.Inspect(f, func(n ast.Node) bool {
		if kv, ok := n.(*ast.KeyValueExpr); ok {
			if id, ok := kv.Key.(*ast.Ident); ok && id.Name == name {
				found = append(found, kv.Value)
			}
		}
		return true
	})
	return found
}

// taskEnvironment is the container's Environment map: name to the
// expression of its value.
func taskEnvironment(t *testing.T, f *ast.File) map[string]ast.Expr {
	t.Helper()
	values := fieldValues(f, "Environment")
	if len(values) != 1 {
		t.Fatalf("deploy/stack.go: %d Environment fields, want the task's one", len(values))
	}
	e := values[0]
	if u, ok := e.(*ast.UnaryExpr); ok {
		e = u.X
	}
	lit, ok := e.(*ast.CompositeLit)
	if !ok {
		t.Fatalf("deploy/stack.go: the task's Environment is not a map literal")
	}
	env := map[string]ast.Expr{}
	for _, el := range lit.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		name, isLit := stringLit(kv.Key)
		if !ok || !isLit {
			t.Fatalf("deploy/stack.go: an Environment key that is not a literal")
		}
		env[name] = kv.Value
	}
	return env
}

// settingShaped is how the app's settings are named: SSM parameters are
// named so as well, by their last path segment.
var settingShaped = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$`)

// settingLiterals are the string literals of f shaped like a setting's
// name: the task's variables and its SSM parameters' last segments.
func settingLiterals(f ast.Node) []string {
	var names []string
	ast.Inspect(f, func(n ast.Node) bool {
		if e, ok := n.(ast.Expr); ok {
			if s, ok := stringLit(e); ok && settingShaped.MatchString(s) && !slices.Contains(names, s) {
				names = append(names, s)
			}
		}
		return true
	})
	slices.Sort(names)
	return names
}

// readByTheApp reports whether the app reads name: one of its settings,
// SSM_PREFIX, the AWS SDK's own (region, endpoint, credentials), or the
// Go runtime's memory limit.
func readByTheApp(name string) bool {
	return config.Known(name) || name == "SSM_PREFIX" || strings.HasPrefix(name, "AWS_") || name == "GOMEMLIMIT"
}

// unreadNames are the setting-shaped literals of a Go source the app
// would not read.
func unreadNames(t *testing.T, src string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "stack.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	var unread []string
	for _, name := range settingLiterals(f) {
		if !readByTheApp(name) {
			unread = append(unread, name)
		}
	}
	return unread
}

// TestDeployNamesTheAppsSettings: a variable or an SSM parameter the app
// does not know is ignored (a parameter with a warning), so a misspelt
// name in the stack would quietly leave its setting at the default.
func TestDeployNamesTheAppsSettings(t *testing.T) {
	// The check catches what it is for.
	bad := "package main\nvar env = map[string]string{\"SSM_PREFIX\": \"/x/\", \"DATABASE_SSL_MODE\": \"verify-full\"}\nvar p = prefix + \"REDIS_UR\"\n"
	if got := unreadNames(t, bad); !slices.Equal(got, []string{"DATABASE_SSL_MODE", "REDIS_UR"}) {
		t.Errorf("names the app does not read, in a sample: got %q, want the two misspelt ones", got)
	}

	src, err := os.ReadFile(filepath.Join(root, "deploy", "stack.go"))
	if err != nil {
		t.Fatal(err)
	}
	if unread := unreadNames(t, string(src)); len(unread) > 0 {
		t.Errorf("deploy/stack.go names %q, which the app does not read", unread)
	}

	f := parseDeploy(t, "stack.go")
	env := taskEnvironment(t, f)
	names := settingLiterals(f)
	for _, want := range []string{"SSM_PREFIX", "DATABASE_SSLMODE", "DATABASE_SSLROOTCERT", "DATABASE_PASSWORD", "REDIS_URL"} {
		if !slices.Contains(names, want) {
			t.Errorf("deploy/stack.go does not name %s: the check reads too little", want)
		}
	}
	// Secrets go to SSM SecureString parameters, never to the task
	// definition, which anyone who may describe tasks can read.
	for name := range env {
		if secretName.MatchString(name) || name == "DATABASE_URL" || name == "REDIS_URL" {
			t.Errorf("the task's environment sets %s: a secret, which belongs in SSM", name)
		}
	}
}

// deployDefault is the default of one Config field in deploy/config.go,
// overridden by the context key in deploy/cdk.json when it sets one.
func deployDefault(t *testing.T, field, contextKey string) string {
	t.Helper()
	values := fieldValues(parseDeploy(t, "config.go"), field)
	var def string
	for _, v := range values {
		if s, ok := stringLit(v); ok {
			def = s
		}
	}
	if def == "" {
		t.Fatalf("deploy/config.go: no literal default for %s", field)
	}
	b, err := os.ReadFile(filepath.Join(root, "deploy", "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cdk struct{ Context map[string]any }
	if err := json.Unmarshal(b, &cdk); err != nil {
		t.Fatalf("deploy/cdk.json: %v", err)
	}
	if v, ok := cdk.Context[contextKey].(string); ok {
		return v
	}
	return def
}

// TestDeployRootCertInTheImage: DATABASE_SSLROOTCERT, with verify-full,
// names a file the image holds; a wrong path fails every task's start.
func TestDeployRootCertInTheImage(t *testing.T) {
	env := taskEnvironment(t, parseDeploy(t, "stack.go"))
	if sel, ok := env["DATABASE_SSLROOTCERT"].(*ast.CallExpr); !ok || len(sel.Args) != 1 {
		t.Fatalf("the task's DATABASE_SSLROOTCERT is not jsii.String(cfg.DatabaseSSLRootCert)")
	} else if s, ok := sel.Args[0].(*ast.SelectorExpr); !ok || s.Sel.Name != "DatabaseSSLRootCert" {
		t.Fatalf("the task's DATABASE_SSLROOTCERT is not jsii.String(cfg.DatabaseSSLRootCert)")
	}
	if mode, _ := jsiiString(env["DATABASE_SSLMODE"]); mode != "verify-full" {
		t.Errorf("the task's DATABASE_SSLMODE %q, want verify-full", mode)
	}
	path := deployDefault(t, "DatabaseSSLRootCert", "databaseSslRootCert")

	stages := parseDockerfile(t)
	final := stages[len(stages)-1]
	var placed []string
	for _, c := range commands[*instructions.AddCommand](final) {
		placed = append(placed, c.DestPath)
	}
	for _, c := range commands[*instructions.CopyCommand](final) {
		placed = append(placed, c.DestPath)
	}
	if !slices.Contains(placed, path) {
		t.Errorf("DATABASE_SSLROOTCERT %s: the image puts files at %q, not there", path, placed)
	}
}

// TestDeployPort: the task's container port and target group port are
// where the image's ADDR listens.
func TestDeployPort(t *testing.T) {
	f := parseDeploy(t, "stack.go")
	port := ""
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok && len(vs.Names) == 1 && vs.Names[0].Name == "appPort" && len(vs.Values) == 1 {
			if lit, ok := vs.Values[0].(*ast.BasicLit); ok {
				port = lit.Value
			}
		}
		return true
	})
	if port == "" {
		t.Fatal("deploy/stack.go: no appPort constant")
	}
	stages := parseDockerfile(t)
	final := stages[len(stages)-1]
	for _, e := range commands[*instructions.EnvCommand](final) {
		for _, kv := range e.Env {
			if kv.Key != "ADDR" {
				continue
			}
			if _, p, err := net.SplitHostPort(kv.Value); err != nil || p != port {
				t.Errorf("the image's ADDR %q, the stack's appPort %s: want the same port", kv.Value, port)
			}
			return
		}
	}
	t.Error("the image sets no ADDR")
}

// deployHealthPath is the target group's health check path.
func deployHealthPath(t *testing.T) string {
	t.Helper()
	for _, hc := range fieldValues(parseDeploy(t, "stack.go"), "HealthCheck") {
		for _, v := range fieldValues(hc, "Path") {
			if p, ok := jsiiString(v); ok {
				return p
			}
		}
	}
	t.Fatal("deploy/stack.go: no health check path")
	return ""
}
