package paramstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"
)

// Client calls SSM's GetParametersByPath, the one operation the app
// needs, over the AWS JSON 1.1 protocol: signed with the SDK's SigV4
// signer, retried by the SDK's retryer, with the credentials and HTTP
// client of the SDK's configuration. The SDK's generated SSM client would
// add some 4 MB of code for hundreds of operations never called.
type Client struct {
	endpoint    string // e.g. https://ssm.eu-west-1.amazonaws.com
	region      string
	credentials aws.CredentialsProvider
	http        aws.HTTPClient
	retryer     aws.Retryer
	signer      *v4.Signer
}

// newClient returns a client for cfg's region, calling endpoint when it is
// not empty and the region's public endpoint otherwise.
func newClient(cfg aws.Config, endpoint string) (*Client, error) {
	if !validRegion(cfg.Region) {
		return nil, fmt.Errorf("region %q is not a region name", cfg.Region)
	}
	if endpoint == "" && cfg.BaseEndpoint != nil {
		endpoint = *cfg.BaseEndpoint
	}
	if endpoint == "" {
		suffix := "amazonaws.com"
		if strings.HasPrefix(cfg.Region, "cn-") {
			suffix = "amazonaws.com.cn"
		}
		endpoint = "https://ssm." + cfg.Region + "." + suffix
	}
	c := &Client{
		endpoint:    strings.TrimSuffix(endpoint, "/"),
		region:      cfg.Region,
		credentials: cfg.Credentials,
		http:        cfg.HTTPClient,
		signer:      v4.NewSigner(),
	}
	if c.credentials == nil {
		return nil, fmt.Errorf("no AWS credentials")
	}
	if !aws.IsCredentialsProvider(c.credentials, (*aws.CredentialsCache)(nil)) {
		c.credentials = aws.NewCredentialsCache(c.credentials)
	}
	if c.http == nil {
		c.http = http.DefaultClient
	}
	if cfg.Retryer != nil {
		c.retryer = cfg.Retryer()
	} else {
		c.retryer = retry.NewStandard()
	}
	return c, nil
}

// validRegion keeps a region, which becomes part of a host name, to the
// letters, digits and dashes region names are made of.
func validRegion(r string) bool {
	if r == "" {
		return false
	}
	for _, c := range r {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// page is one answer of GetParametersByPath.
type page struct {
	Parameters []struct{ Name, Value string }
	NextToken  string
}

// getParametersByPath asks for the page of parameters under path that
// token names (the first page for ""), retrying what the retryer deems
// transient: throttling, 5xx answers, broken connections.
func (c *Client) getParametersByPath(ctx context.Context, path, token string) (*page, error) {
	body, err := json.Marshal(struct {
		Path           string
		Recursive      bool
		WithDecryption bool
		NextToken      string `json:",omitempty"`
	}{path, true, true, token})
	if err != nil {
		return nil, err
	}
	release := c.retryer.GetInitialToken()
	for attempt := 1; ; attempt++ {
		p, err := c.call(ctx, body)
		release(err)
		if err == nil {
			return p, nil
		}
		if !c.retryer.IsErrorRetryable(err) {
			return nil, err
		}
		if attempt >= c.retryer.MaxAttempts() {
			return nil, fmt.Errorf("after %d attempts: %w", attempt, err)
		}
		if release, err = c.retryer.GetRetryToken(ctx, err); err != nil {
			return nil, fmt.Errorf("retry %d: %w", attempt, err)
		}
		delay, derr := c.retryer.RetryDelay(attempt, err)
		if derr != nil {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (retrying after %v)", ctx.Err(), err)
		case <-time.After(delay):
		}
	}
}

// call makes one attempt.
func (c *Client) call(ctx context.Context, body []byte) (*page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AmazonSSM.GetParametersByPath")
	req.Header.Set("User-Agent", "xkcdapp aws-sdk-go-v2/"+aws.SDKVersion)
	creds, err := c.credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "ssm", c.region, time.Now()); err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	// A page holds at most 10 parameters of at most 8 KB each.
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, newAPIError(resp, b)
	}
	var p page
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("SSM answer: %w", err)
	}
	return &p, nil
}

// apiError is an error SSM answered. It is a smithy.APIError, as the
// SDK's own are, and its code and HTTP status tell the retryer what to
// retry.
type apiError struct {
	status               int
	code, message, reqID string
}

var _ smithy.APIError = (*apiError)(nil)

// newAPIError reads an AWS JSON 1.1 error: its code from X-Amzn-ErrorType
// or the body's __type, both possibly qualified ("com.amazonaws.ssm#X",
// "X:http://...").
func newAPIError(resp *http.Response, body []byte) *apiError {
	var b struct {
		Type    string `json:"__type"`
		Code    string `json:"code"`
		Message string // "message" or "Message"
	}
	json.Unmarshal(body, &b)
	code := resp.Header.Get("X-Amzn-ErrorType")
	for _, c := range []string{b.Type, b.Code} {
		if code == "" {
			code = c
		}
	}
	code, _, _ = strings.Cut(code, ":")
	if i := strings.LastIndex(code, "#"); i >= 0 {
		code = code[i+1:]
	}
	if code == "" {
		code = http.StatusText(resp.StatusCode)
	}
	return &apiError{status: resp.StatusCode, code: code, message: b.Message, reqID: resp.Header.Get("X-Amzn-RequestId")}
}

func (e *apiError) Error() string {
	return fmt.Sprintf("SSM GetParametersByPath: StatusCode: %d, RequestID: %s, %s: %s", e.status, e.reqID, e.code, e.message)
}

func (e *apiError) ErrorCode() string    { return e.code }
func (e *apiError) ErrorMessage() string { return e.message }
func (e *apiError) HTTPStatusCode() int  { return e.status }

func (e *apiError) ErrorFault() smithy.ErrorFault {
	if e.status >= 500 {
		return smithy.FaultServer
	}
	return smithy.FaultClient
}
