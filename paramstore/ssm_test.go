package paramstore

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"
)

// ssmServer answers each call with the next of answers (status and body),
// recording the requests.
type ssmServer struct {
	mu       sync.Mutex
	answers  []answer
	requests []*http.Request
	bodies   []string
}

type answer struct {
	status int
	body   string
}

func newSSMServer(t *testing.T, answers ...answer) (*ssmServer, *httptest.Server) {
	t.Helper()
	s := &ssmServer{answers: answers}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.requests = append(s.requests, r)
		s.bodies = append(s.bodies, string(b))
		a := answer{http.StatusInternalServerError, `{"__type":"InternalServerError","message":"out of answers"}`}
		if len(s.answers) > 0 {
			a, s.answers = s.answers[0], s.answers[1:]
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(ts.Close)
	return s, ts
}

func (s *ssmServer) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

func testClient(t *testing.T, ts *httptest.Server, creds aws.Credentials) *Client {
	t.Helper()
	c, err := newClient(aws.Config{
		Region:      "eu-west-1",
		Credentials: credentials.StaticCredentialsProvider{Value: creds},
		HTTPClient:  ts.Client(),
	}, ts.URL)
	if err != nil {
		t.Fatalf("newClient: %v", err)
	}
	return c
}

var keys = aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}

const onePage = `{"Parameters":[{"Name":"/xkcdapp/prod/LOG_LEVEL","Type":"String","Value":"warn","Version":1}]}`

// TestRequest: the call is the AWS JSON 1.1 request SSM expects, signed
// with the task role's temporary credentials, session token included.
func TestRequest(t *testing.T) {
	srv, ts := newSSMServer(t, answer{http.StatusOK, onePage})
	c := testClient(t, ts, aws.Credentials{AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secret", SessionToken: "token-of-the-task-role"})
	if _, err := Load(t.Context(), c, "/xkcdapp/prod/"); err != nil {
		t.Fatalf("Load: %v", err)
	}
	srv.mu.Lock()
	r, body := srv.requests[0], srv.bodies[0]
	srv.mu.Unlock()
	for header, want := range map[string]string{
		"Content-Type":         "application/x-amz-json-1.1",
		"X-Amz-Target":         "AmazonSSM.GetParametersByPath",
		"X-Amz-Security-Token": "token-of-the-task-role",
	} {
		if got := r.Header.Get(header); got != want {
			t.Errorf("%s: got %q, want %q", header, got, want)
		}
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		t.Errorf("request: got %s %s, want POST /", r.Method, r.URL.Path)
	}
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/") || !strings.Contains(auth, "/eu-west-1/ssm/aws4_request") ||
		!strings.Contains(auth, "x-amz-security-token") {
		t.Errorf("Authorization: got %q, want SigV4 for ssm in eu-west-1, over the session token", auth)
	}
	if want := `{"Path":"/xkcdapp/prod/","Recursive":true,"WithDecryption":true}`; body != want {
		t.Errorf("body: got %s, want %s", body, want)
	}
}

// TestServerErrorRetried: a 5xx is transient; a 4xx other than
// throttling is not.
func TestServerErrorRetried(t *testing.T) {
	srv, ts := newSSMServer(t,
		answer{http.StatusInternalServerError, `{"__type":"InternalServerError","message":"try again"}`},
		answer{http.StatusOK, onePage})
	params, err := Load(t.Context(), testClient(t, ts, keys), "/xkcdapp/prod/")
	if err != nil || params["LOG_LEVEL"] != "warn" {
		t.Fatalf("Load after a 500: got %v, %v, want LOG_LEVEL=warn", params, err)
	}
	if got := srv.calls(); got != 2 {
		t.Errorf("calls: got %d, want 2", got)
	}

	// The server's answers run out: every later call is a 500.
	srv, ts = newSSMServer(t)
	if _, err := Load(t.Context(), testClient(t, ts, keys), "/xkcdapp/prod/"); err == nil || !strings.Contains(err.Error(), "after 3 attempts") {
		t.Errorf("Load failing every time: got %v, want it to give up after 3 attempts", err)
	}
	if got := srv.calls(); got != 3 {
		t.Errorf("calls: got %d, want 3", got)
	}

	srv, ts = newSSMServer(t, answer{http.StatusBadRequest, `{"__type":"ValidationException","message":"bad path"}`})
	if _, err := Load(t.Context(), testClient(t, ts, keys), "/xkcdapp/prod/"); err == nil || !strings.Contains(err.Error(), "bad path") {
		t.Errorf("Load refused: got %v, want SSM's message", err)
	}
	if got := srv.calls(); got != 1 {
		t.Errorf("calls for a ValidationException: got %d, want 1", got)
	}
}

// TestBadAnswers: an answer that is not JSON, or a page token SSM already
// gave, fails the load rather than looping or loading half.
func TestBadAnswers(t *testing.T) {
	for _, tt := range []struct {
		name    string
		answers []answer
		want    string
	}{
		{"not JSON", []answer{{http.StatusOK, `<html>proxy error</html>`}}, "SSM answer"},
		{"token twice", []answer{
			{http.StatusOK, `{"Parameters":[],"NextToken":"t1"}`},
			{http.StatusOK, `{"Parameters":[],"NextToken":"t1"}`},
		}, "same page token"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, ts := newSSMServer(t, tt.answers...)
			_, err := Load(t.Context(), testClient(t, ts, keys), "/xkcdapp/prod/")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load: got %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

// TestAPIErrorCode: the error code comes in several shapes.
func TestAPIErrorCode(t *testing.T) {
	for _, tt := range []struct {
		header, body  string
		status        int
		code, message string
		fault         smithy.ErrorFault
	}{
		{"AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/", `{"message":"no"}`, 400, "AccessDeniedException", "no", smithy.FaultClient},
		{"", `{"__type":"com.amazonaws.ssm#ParameterNotFound","message":"gone"}`, 400, "ParameterNotFound", "gone", smithy.FaultClient},
		{"", `{"code":"ThrottlingException","Message":"Rate exceeded"}`, 400, "ThrottlingException", "Rate exceeded", smithy.FaultClient},
		{"", ``, 503, "Service Unavailable", "", smithy.FaultServer},
	} {
		resp := &http.Response{StatusCode: tt.status, Header: http.Header{}}
		if tt.header != "" {
			resp.Header.Set("X-Amzn-ErrorType", tt.header)
		}
		var api smithy.APIError
		if err := error(newAPIError(resp, []byte(tt.body))); !errors.As(err, &api) {
			t.Fatalf("%s: not a smithy.APIError", tt.body)
		}
		if api.ErrorCode() != tt.code || api.ErrorMessage() != tt.message || api.ErrorFault() != tt.fault {
			t.Errorf("%q %s: got %q %q %v, want %q %q %v", tt.header, tt.body,
				api.ErrorCode(), api.ErrorMessage(), api.ErrorFault(), tt.code, tt.message, tt.fault)
		}
	}
}

// TestEndpoint: the region's public endpoint unless one is given; a
// region that is not a region name never becomes part of a host name.
func TestEndpoint(t *testing.T) {
	creds := credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")
	for _, tt := range []struct{ region, endpoint, base, want string }{
		{"eu-west-1", "", "", "https://ssm.eu-west-1.amazonaws.com"},
		{"cn-north-1", "", "", "https://ssm.cn-north-1.amazonaws.com.cn"},
		{"eu-west-1", "http://127.0.0.1:4566/", "", "http://127.0.0.1:4566"},
		{"eu-west-1", "", "http://localstack:4566", "http://localstack:4566"},
		{"eu-west-1", "http://127.0.0.1:4566", "http://localstack:4566", "http://127.0.0.1:4566"},
	} {
		cfg := aws.Config{Region: tt.region, Credentials: creds}
		if tt.base != "" {
			cfg.BaseEndpoint = aws.String(tt.base)
		}
		c, err := newClient(cfg, tt.endpoint)
		if err != nil {
			t.Fatalf("newClient(%s, %q): %v", tt.region, tt.endpoint, err)
		}
		if c.endpoint != tt.want {
			t.Errorf("region %s, endpoint %q, base %q: got %s, want %s", tt.region, tt.endpoint, tt.base, c.endpoint, tt.want)
		}
	}
	for _, region := range []string{"evil.example/x", "EU-WEST-1", "eu-west-1.attacker.example"} {
		if _, err := newClient(aws.Config{Region: region, Credentials: creds}, ""); err == nil {
			t.Errorf("region %q: got a client, want an error", region)
		}
	}
}
