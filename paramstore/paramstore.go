// Package paramstore reads the app's settings from AWS Systems Manager
// Parameter Store: every parameter under one path (SSM_PREFIX), each named
// by the last segment of its path, so that secrets never sit in a task
// definition or an image.
package paramstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"
)

// Action is the IAM action the app needs on its prefix; errors name it so
// that a missing permission is fixed from the log alone.
const Action = "ssm:GetParametersByPath"

// loadTimeout bounds reading the parameters, retries included: a start
// that cannot reach SSM should fail, not hang.
const loadTimeout = 20 * time.Second

// Params are the settings read from Parameter Store: name to value.
type Params map[string]string

// Names returns the settings' names, sorted: what may be logged of them.
func (p Params) Names() []string {
	return slices.Sorted(maps.Keys(p))
}

// Under returns a getenv that answers from getenv first and from p only
// where the environment is empty: the environment wins over SSM.
func (p Params) Under(getenv func(string) string) func(string) string {
	return func(name string) string {
		if v := getenv(name); strings.TrimSpace(v) != "" {
			return v
		}
		return p[name]
	}
}

// NewClient returns an SSM client configured from getenv: the region from
// AWS_REGION (or AWS_DEFAULT_REGION); AWS_ENDPOINT_URL_SSM, when set, as
// the endpoint; keys from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY when
// set, and otherwise the SDK's default credential chain (the task role on
// ECS Fargate).
func NewClient(ctx context.Context, prefix string, getenv func(string) string) (*Client, error) {
	var opts []func(*awsconfig.LoadOptions) error
	region := getenv("AWS_REGION")
	if region == "" {
		region = getenv("AWS_DEFAULT_REGION")
	}
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	if id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN"))))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("SSM_PREFIX %s: AWS configuration for %s: %w", prefix, Action, err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("SSM_PREFIX %s: no AWS region for %s: set AWS_REGION", prefix, Action)
	}
	client, err := newClient(cfg, getenv("AWS_ENDPOINT_URL_SSM"))
	if err != nil {
		return nil, fmt.Errorf("SSM_PREFIX %s: %s: %w", prefix, Action, err)
	}
	return client, nil
}

// Load reads every parameter under prefix, recursively, SecureStrings
// decrypted, page after page. Two parameters whose paths end in the same
// name are an error: which one wins would be a guess.
func Load(ctx context.Context, client *Client, prefix string) (Params, error) {
	if !strings.HasPrefix(prefix, "/") {
		return nil, fmt.Errorf("SSM_PREFIX %q: not a parameter path (e.g. /xkcdapp/prod/)", prefix)
	}
	ctx, cancel := context.WithTimeout(ctx, loadTimeout)
	defer cancel()
	params := make(Params)
	paths := make(map[string]string)
	seen := make(map[string]bool) // page tokens: a repeated one would loop
	token := ""
	for {
		page, err := client.getParametersByPath(ctx, prefix, token)
		if err != nil {
			return nil, explain(prefix, err)
		}
		for _, p := range page.Parameters {
			name := path.Base(p.Name)
			if earlier, ok := paths[name]; ok {
				return nil, fmt.Errorf("SSM_PREFIX %s: %s and %s both name the setting %s", prefix, earlier, p.Name, name)
			}
			paths[name] = p.Name
			params[name] = p.Value
		}
		token = page.NextToken
		if token == "" {
			return params, nil
		}
		if seen[token] {
			return nil, fmt.Errorf("SSM_PREFIX %s: %s: SSM gave the same page token twice", prefix, Action)
		}
		seen[token] = true
	}
}

// explain turns an SDK error into one that says what to fix.
func explain(prefix string, err error) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException":
			return fmt.Errorf("SSM_PREFIX %s: access denied: the app's role needs %s on this path (and kms:Decrypt on its key for SecureString parameters): %w",
				prefix, Action, err)
		}
	}
	return fmt.Errorf("SSM_PREFIX %s: %s: %w", prefix, Action, err)
}
