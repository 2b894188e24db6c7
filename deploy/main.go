// The xkcdapp deployment on AWS: `npx cdk synth`, `npx cdk deploy`.
// Settings are CDK context (cdk.json, or -c key=value); see docs/DEPLOY.md.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// placeholderZoneID is cdk.json's stand-in for a real hosted zone.
const placeholderZoneID = "Z0000000000000EXAMPLE"

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	get := func(key string) any { return app.Node().TryGetContext(jsii.String(key)) }
	cfg, err := FromContext(get)
	if err == nil {
		offline, _ := get("offlineAccount").(string)
		cfg, err = withAccount(cfg, os.Getenv("CDK_DEFAULT_ACCOUNT"), offline)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		jsii.Close() // os.Exit skips the deferred one: it removes the runtime's temporary files
		os.Exit(2)
	}
	NewStack(app, cfg)
	app.Synth(nil)
}

// withAccount settles the account: the one given, or that of the
// credentials in use (credentials), or without any, an offline synth, the
// placeholder (offline). The region is a choice made in cdk.json, not
// whatever the shell's profile says.
func withAccount(cfg Config, credentials, offline string) (Config, error) {
	for _, a := range []string{cfg.Account, credentials, offline} {
		if a != "" {
			cfg.Account = a
			break
		}
	}
	switch {
	case cfg.Account == "":
		return cfg, errors.New("context account: not set, and no credentials say it (cdk.json sets offlineAccount for synth without them)")
	case cfg.Region == "":
		return cfg, errors.New("context region: not set (cdk.json sets it)")
	case cfg.Account != offline && cfg.HostedZoneID == placeholderZoneID:
		// A real account with the placeholder names would fail half-way
		// through a deploy, at the certificate: stop now instead.
		return cfg, errors.New("context domainName, hostedZoneName, hostedZoneId: still cdk.json's placeholders; set your own (docs/DEPLOY.md, step 2)")
	}
	return cfg, nil
}
