// The xkcdapp deployment on AWS: `npx cdk synth`, `npx cdk deploy`.
// Settings are CDK context (cdk.json, or -c key=value); see docs/DEPLOY.md.
package main

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	cfg, err := FromContext(func(key string) any { return app.Node().TryGetContext(jsii.String(key)) })
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// The region is a choice made in cdk.json (or -c region=...), not
	// whatever the shell's profile says. The account is the one given, or
	// that of the credentials in use, or without any (an offline synth)
	// a placeholder.
	cfg.Account = first(cfg.Account, os.Getenv("CDK_DEFAULT_ACCOUNT"), fmt.Sprint(app.Node().TryGetContext(jsii.String("offlineAccount"))))
	if cfg.Region == "" {
		fmt.Fprintln(os.Stderr, "context region: not set (cdk.json sets it)")
		os.Exit(2)
	}
	NewStack(app, cfg)
	app.Synth(nil)
}

// first is the first of values that is set.
func first(values ...string) string {
	for _, v := range values {
		if v != "" && v != "<nil>" {
			return v
		}
	}
	return ""
}
