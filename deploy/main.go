// The xkcdapp deployment on AWS: `npx cdk synth`, `npx cdk deploy`.
// Settings are CDK context (cdk.json, or -c key=value); see docs/DEPLOY.md.
package main

import (
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
	if err != nil {
		fail(err.Error())
	}
	// The account is the one given, or that of the credentials in use, or
	// without any (an offline synth) a placeholder. The region is a choice
	// made in cdk.json (or -c region=...), not whatever the shell's profile
	// says.
	offline, _ := get("offlineAccount").(string)
	cfg.Account = first(cfg.Account, os.Getenv("CDK_DEFAULT_ACCOUNT"), offline)
	if cfg.Region == "" {
		fail("context region: not set (cdk.json sets it)")
	}
	// A real account with the placeholder names would fail half-way
	// through a deploy, at the certificate: stop now instead.
	if cfg.Account != offline && cfg.HostedZoneID == placeholderZoneID {
		fail("context domainName, hostedZoneName, hostedZoneId: still cdk.json's placeholders; set your own (docs/DEPLOY.md, step 2)")
	}
	NewStack(app, cfg)
	app.Synth(nil)
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, msg)
	os.Exit(2)
}

// first is the first of values that is set.
func first(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
