// Package paramstoretest is a fake AWS Systems Manager Parameter Store for
// tests: an HTTP server that speaks the AWS JSON 1.1 protocol for
// GetParametersByPath, pages its answers and can deny access as IAM would.
package paramstoretest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Parameter is one stored parameter.
type Parameter struct {
	Name, Type, Value string // Type: String, StringList or SecureString
}

// Server is the fake; point the SDK at URL.
type Server struct {
	URL string
	// PageSize is the most parameters per answer; AWS's own is 10.
	PageSize int

	mu       sync.Mutex
	params   []Parameter
	deny     bool
	throttle int
	calls    int
	region   string
}

// NewServer starts a fake holding params, stopped when t ends.
func NewServer(t testing.TB, params ...Parameter) *Server {
	t.Helper()
	s := &Server{PageSize: 10, params: params}
	ts := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(ts.Close)
	s.URL = ts.URL
	return s
}

// Deny makes every call fail as a role without ssm:GetParametersByPath does.
func (s *Server) Deny() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deny = true
}

// Throttle makes the next n calls fail as SSM does above its request
// rate, with a ThrottlingException, which clients are to retry.
func (s *Server) Throttle(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = n
}

// Region is the region the last call was signed for.
func (s *Server) Region() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.region
}

// Calls is how many GetParametersByPath calls were answered.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

type request struct {
	Path           string
	Recursive      bool
	WithDecryption bool
	NextToken      string
	MaxResults     int
}

type parameter struct {
	Name    string
	Type    string
	Value   string
	Version int
	ARN     string
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if got := r.Header.Get("X-Amz-Target"); got != "AmazonSSM.GetParametersByPath" {
		fail(w, http.StatusBadRequest, "UnknownOperationException", "unsupported target "+got)
		return
	}
	// Credential=<key id>/<date>/<region>/ssm/aws4_request
	auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ")
	_, cred, _ := strings.Cut(auth, "Credential=")
	cred, _, _ = strings.Cut(cred, ",")
	scope := strings.Split(cred, "/")
	if !ok || len(scope) != 5 || scope[3] != "ssm" {
		fail(w, http.StatusBadRequest, "MissingAuthenticationTokenException", "request is not signed for ssm")
		return
	}
	var req request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	s.region = scope[2]
	if s.throttle > 0 {
		s.throttle--
		fail(w, http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
		return
	}
	if s.deny {
		fail(w, http.StatusBadRequest, "AccessDeniedException", fmt.Sprintf(
			"User: arn:aws:sts::123456789012:assumed-role/xkcdapp-task/abc is not authorized to perform: ssm:GetParametersByPath on resource: arn:aws:ssm:eu-west-1:123456789012:parameter%s because no identity-based policy allows the ssm:GetParametersByPath action",
			req.Path))
		return
	}
	if !strings.HasPrefix(req.Path, "/") {
		fail(w, http.StatusBadRequest, "ValidationException", "path must start with /")
		return
	}
	dir := strings.TrimSuffix(req.Path, "/") + "/"
	var match []Parameter
	for _, p := range s.params {
		rest, ok := strings.CutPrefix(p.Name, dir)
		if !ok || (!req.Recursive && strings.Contains(rest, "/")) {
			continue
		}
		match = append(match, p)
	}
	sort.Slice(match, func(i, j int) bool { return match[i].Name < match[j].Name })
	start := 0
	if req.NextToken != "" {
		n, err := strconv.Atoi(req.NextToken)
		if err != nil || n < 0 || n > len(match) {
			fail(w, http.StatusBadRequest, "InvalidNextToken", "bad token")
			return
		}
		start = n
	}
	size := s.PageSize
	if req.MaxResults > 0 && req.MaxResults < size {
		size = req.MaxResults
	}
	end := min(start+size, len(match))
	out := struct {
		Parameters []parameter
		NextToken  string `json:",omitempty"`
	}{Parameters: []parameter{}}
	for _, p := range match[start:end] {
		v := p.Value
		if p.Type == "SecureString" && !req.WithDecryption {
			// AWS returns the ciphertext; a test that sees it knows
			// decryption was not asked for.
			v = "AQICAHciphertext" + strconv.Itoa(len(p.Value))
		}
		out.Parameters = append(out.Parameters, parameter{
			Name: p.Name, Type: p.Type, Value: v, Version: 1,
			ARN: "arn:aws:ssm:eu-west-1:123456789012:parameter" + p.Name,
		})
	}
	if end < len(match) {
		out.NextToken = strconv.Itoa(end)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(out)
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.ssm#" + code, "message": msg})
}

// Isolate keeps the machine's own AWS settings out of a test: the SDK
// reads some of them from the process, whatever the app's getenv says.
func Isolate(t *testing.T) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none, "AWS_PROFILE": "",
		"AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_SSM": "",
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
		"AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
}
