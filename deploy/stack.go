package main

import (
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapplicationautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticache"
	elb "github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsrds"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsroute53targets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3assets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsssm"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

const (
	appPort      = 8000
	databaseName = "xkcdapp"
	databaseUser = "xkcdapp"
	containerApp = "app"
)

// Timings that must agree with the app. On SIGTERM it stops taking new
// requests, gives requests and live streams up to 18 s to end and is gone
// within 25 s; Fargate kills it 30 s after SIGTERM. ECS sends SIGTERM only
// once the ALB has finished draining the task, so the deregistration delay
// covers the few seconds the ALB's nodes take to stop routing to it plus the
// short requests already in flight; longer would only slow every deploy, as
// live streams never end by themselves and hold draining open to its limit.
// Their clients reconnect to another task.
const (
	stopTimeoutSeconds      = 30
	deregistrationSeconds   = 30
	idleTimeoutSeconds      = 60 // the app writes to every live stream at least every 20 s
	healthCheckIntervalSecs = 10
	healthCheckGraceSeconds = 60
	scaleOutCooldownSeconds = 60
	scaleInCooldownSeconds  = 300
	cpuTargetPercent        = 60
	databaseBackupDays      = 7
	lambdaLogRetention      = awslogs.RetentionDays_ONE_WEEK
)

// imageExclude keeps the image's build context to what the Dockerfile
// needs; the .dockerignore file is honoured as well.
var imageExclude = []string{"deploy", ".git", ".ci", "bench", "docs", "bin", "*.test", "*.out"}

// NewStack is the whole deployment: network, load balancer and DNS, the
// service, Postgres, Redis and the app's settings in SSM.
func NewStack(scope constructs.Construct, cfg Config) awscdk.Stack {
	stack := awscdk.NewStack(scope, jsii.String(cfg.StackName()), &awscdk.StackProps{
		Env:         &awscdk.Environment{Account: jsii.String(cfg.Account), Region: jsii.String(cfg.Region)},
		Description: jsii.String("xkcdapp " + cfg.EnvName + ": Fargate behind an HTTPS load balancer, RDS Postgres, ElastiCache Redis, settings in SSM under " + cfg.SSMPrefix()),
	})
	awscdk.Tags_Of(stack).Add(jsii.String("app"), jsii.String("xkcdapp"), nil)
	awscdk.Tags_Of(stack).Add(jsii.String("env"), jsii.String(cfg.EnvName), nil)

	// Two zones. Tasks run in private subnets and reach xkcd.com and the
	// AWS APIs through NAT; Postgres and Redis sit in isolated subnets
	// with no route out at all. The S3 gateway endpoint is free and keeps
	// image layers (which ECR serves from S3) off the NAT's per-GB bill.
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		MaxAzs:      jsii.Number(2),
		NatGateways: jsii.Number(float64(cfg.NatGateways)),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24)},
			{Name: jsii.String("app"), SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS, CidrMask: jsii.Number(22)},
			{Name: jsii.String("data"), SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED, CidrMask: jsii.Number(24)},
		},
		GatewayEndpoints: &map[string]*awsec2.GatewayVpcEndpointOptions{
			"S3": {Service: awsec2.GatewayVpcEndpointAwsService_S3()},
		},
	})
	appSubnets := &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS}
	dataSubnets := &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED}

	// Security groups: the internet reaches the ALB only, the ALB reaches
	// the service only, the service alone reaches Postgres and Redis.
	albSG := newSecurityGroup(stack, vpc, "AlbSecurityGroup", "xkcdapp load balancer: HTTP and HTTPS from anywhere", false)
	albSG.AddIngressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(443)), jsii.String("HTTPS from anywhere"), nil)
	albSG.AddIngressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(80)), jsii.String("HTTP from anywhere, redirected to HTTPS"), nil)
	// Outbound from the service: xkcd.com, SSM, ECR, CloudWatch Logs,
	// Postgres and Redis.
	serviceSG := newSecurityGroup(stack, vpc, "ServiceSecurityGroup", "xkcdapp tasks: from the load balancer only", true)
	serviceSG.AddIngressRule(albSG, awsec2.Port_Tcp(jsii.Number(appPort)), jsii.String("the app from the load balancer"), nil)
	albSG.AddEgressRule(serviceSG, awsec2.Port_Tcp(jsii.Number(appPort)), jsii.String("to the app"), nil)
	databaseSG := newSecurityGroup(stack, vpc, "DatabaseSecurityGroup", "xkcdapp Postgres: from the tasks only", false)
	databaseSG.AddIngressRule(serviceSG, awsec2.Port_Tcp(jsii.Number(5432)), jsii.String("Postgres from the tasks"), nil)
	cacheSG := newSecurityGroup(stack, vpc, "CacheSecurityGroup", "xkcdapp Redis: from the tasks only", false)
	cacheSG.AddIngressRule(serviceSG, awsec2.Port_Tcp(jsii.Number(6379)), jsii.String("Redis from the tasks"), nil)

	// The key for the app's SecureString parameters: its own, so that the
	// task role's kms:Decrypt names one key.
	settingsKey := awskms.NewKey(stack, jsii.String("SettingsKey"), &awskms.KeyProps{
		Alias:             jsii.String("alias/xkcdapp/" + cfg.EnvName + "/settings"),
		Description:       jsii.String("xkcdapp " + cfg.EnvName + ": SecureString parameters under " + cfg.SSMPrefix()),
		EnableKeyRotation: jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_DESTROY,
		PendingWindow:     awscdk.Duration_Days(jsii.Number(7)),
	})

	db := newDatabase(stack, cfg, vpc, dataSubnets, databaseSG)
	cache, cacheToken := newCache(stack, cfg, vpc, dataSubnets, cacheSG)

	// The app's settings, read at start with GetParametersByPath. Plain
	// values are String parameters CloudFormation makes itself; secrets
	// are SecureString copies of generated secrets, made by a custom
	// resource.
	prefix := cfg.SSMPrefix()
	settings := []constructs.IDependable{}
	for _, p := range []struct{ id, name, value string }{
		{"DatabaseHostParameter", "DATABASE_HOST", *db.DbInstanceEndpointAddress()},
		{"DatabasePortParameter", "DATABASE_PORT", *db.DbInstanceEndpointPort()},
		{"DatabaseNameParameter", "DATABASE_NAME", databaseName},
		{"DatabaseUserParameter", "DATABASE_USER", databaseUser},
	} {
		settings = append(settings, awsssm.NewStringParameter(stack, jsii.String(p.id), &awsssm.StringParameterProps{
			ParameterName: jsii.String(prefix + p.name),
			StringValue:   jsii.String(p.value),
			Description:   jsii.String("xkcdapp " + cfg.EnvName + " setting " + p.name),
		}))
	}
	secure := newSecureParameterProvider(stack, settingsKey, prefix)
	settings = append(settings,
		secure.parameter("DatabasePasswordParameter", prefix+"DATABASE_PASSWORD", db.Secret(), "password", ""),
		secure.parameter("RedisUrlParameter", prefix+"REDIS_URL", cacheToken, "",
			"rediss://:{{secret}}@"+*cache.AttrPrimaryEndPointAddress()+":"+*cache.AttrPrimaryEndPointPort()),
	)

	// The task role may read the prefix and decrypt with its key: nothing else.
	taskRole := awsiam.NewRole(stack, jsii.String("TaskRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
		Description: jsii.String("xkcdapp " + cfg.EnvName + " tasks: read settings under " + prefix),
	})
	taskRole.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("ssm:GetParametersByPath"),
		Resources: jsii.Strings(parameterArn(stack, cfg.EnvName), parameterArn(stack, cfg.EnvName+"/*")),
	}))
	taskRole.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("kms:Decrypt"),
		Resources: &[]*string{settingsKey.KeyArn()},
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"kms:ViaService": "ssm." + cfg.Region + ".amazonaws.com"},
		},
	}))

	service, targetGroup, alb := newService(stack, cfg, vpc, appSubnets, serviceSG, albSG, taskRole)
	// Tasks start once every setting exists: without REDIS_URL the app
	// would quietly keep sessions in memory.
	service.Node().AddDependency(settings...)

	// HTTPS on the app's own name.
	zone := awsroute53.HostedZone_FromHostedZoneAttributes(stack, jsii.String("Zone"), &awsroute53.HostedZoneAttributes{
		HostedZoneId: jsii.String(cfg.HostedZoneID),
		ZoneName:     jsii.String(cfg.HostedZoneName),
	})
	cert := awscertificatemanager.NewCertificate(stack, jsii.String("Certificate"), &awscertificatemanager.CertificateProps{
		DomainName: jsii.String(cfg.DomainName),
		Validation: awscertificatemanager.CertificateValidation_FromDns(zone),
	})
	alb.AddListener(jsii.String("Https"), &elb.BaseApplicationListenerProps{
		Port:                jsii.Number(443),
		Protocol:            elb.ApplicationProtocol_HTTPS,
		Certificates:        &[]elb.IListenerCertificate{elb.ListenerCertificate_FromCertificateManager(cert)},
		SslPolicy:           elb.SslPolicy_RECOMMENDED_TLS,
		Open:                jsii.Bool(false),
		DefaultTargetGroups: &[]elb.IApplicationTargetGroup{targetGroup},
	})
	alb.AddRedirect(&elb.ApplicationLoadBalancerRedirectConfig{
		SourcePort:     jsii.Number(80),
		SourceProtocol: elb.ApplicationProtocol_HTTP,
		TargetPort:     jsii.Number(443),
		TargetProtocol: elb.ApplicationProtocol_HTTPS,
		Open:           jsii.Bool(false),
	})
	awsroute53.NewARecord(stack, jsii.String("Alias"), &awsroute53.ARecordProps{
		Zone:       zone,
		RecordName: jsii.String(cfg.DomainName),
		Target:     awsroute53.RecordTarget_FromAlias(awsroute53targets.NewLoadBalancerTarget(alb, nil)),
		Comment:    jsii.String("xkcdapp " + cfg.EnvName),
	})

	// Scaling follows CPU and requests per task, whichever asks for more
	// tasks; the request target needs the listener in place.
	scaling := service.AutoScaleTaskCount(&awsapplicationautoscaling.EnableScalingProps{
		MinCapacity: jsii.Number(float64(cfg.DesiredCount)),
		MaxCapacity: jsii.Number(float64(cfg.MaxCount)),
	})
	scaling.ScaleOnCpuUtilization(jsii.String("Cpu"), &awsecs.CpuUtilizationScalingProps{
		TargetUtilizationPercent: jsii.Number(cpuTargetPercent),
		ScaleOutCooldown:         awscdk.Duration_Seconds(jsii.Number(scaleOutCooldownSeconds)),
		ScaleInCooldown:          awscdk.Duration_Seconds(jsii.Number(scaleInCooldownSeconds)),
	})
	scaling.ScaleOnRequestCount(jsii.String("Requests"), &awsecs.RequestCountScalingProps{
		RequestsPerTarget: jsii.Number(float64(cfg.RequestTarget())),
		TargetGroup:       targetGroup,
		ScaleOutCooldown:  awscdk.Duration_Seconds(jsii.Number(scaleOutCooldownSeconds)),
		ScaleInCooldown:   awscdk.Duration_Seconds(jsii.Number(scaleInCooldownSeconds)),
	})

	out := func(id, value, description string) {
		awscdk.NewCfnOutput(stack, jsii.String(id), &awscdk.CfnOutputProps{Value: jsii.String(value), Description: jsii.String(description)})
	}
	out("Url", "https://"+cfg.DomainName+"/", "the app")
	out("LoadBalancerDns", *alb.LoadBalancerDnsName(), "the load balancer's own name, for checks before DNS has spread")
	out("ClusterName", *service.Cluster().ClusterName(), "ECS cluster")
	out("ServiceName", *service.ServiceName(), "ECS service")
	out("TaskDefinitionArn", *service.TaskDefinition().TaskDefinitionArn(), "for one-off tasks such as migrate")
	out("TaskSubnets", *awscdk.Fn_Join(jsii.String(","), vpc.SelectSubnets(appSubnets).SubnetIds), "private subnets for one-off tasks")
	out("TaskSecurityGroup", *serviceSG.SecurityGroupId(), "security group for one-off tasks")
	out("SettingsPrefix", prefix, "the app's SSM parameters")
	out("DatabaseSecretArn", *db.Secret().SecretArn(), "the generated Postgres password")
	return stack
}

// newSecurityGroup is a group that allows no inbound traffic until rules
// are added, and outbound traffic only if allowAllOutbound.
func newSecurityGroup(stack awscdk.Stack, vpc awsec2.IVpc, id, description string, allowAllOutbound bool) awsec2.SecurityGroup {
	return awsec2.NewSecurityGroup(stack, jsii.String(id), &awsec2.SecurityGroupProps{
		Vpc:              vpc,
		Description:      jsii.String(description),
		AllowAllOutbound: jsii.Bool(allowAllOutbound),
	})
}

// parameterArn is the ARN of an SSM parameter (or path) under /xkcdapp/.
func parameterArn(stack awscdk.Stack, name string) string {
	return *stack.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("ssm"),
		Resource:     jsii.String("parameter"),
		ResourceName: jsii.String("xkcdapp/" + name),
		ArnFormat:    awscdk.ArnFormat_SLASH_RESOURCE_NAME,
	})
}

// newDatabase is Postgres in the isolated subnets: encrypted, backed up,
// TLS only, its password generated into Secrets Manager.
func newDatabase(stack awscdk.Stack, cfg Config, vpc awsec2.IVpc, subnets *awsec2.SubnetSelection, sg awsec2.ISecurityGroup) awsrds.DatabaseInstance {
	engine := awsrds.DatabaseInstanceEngine_Postgres(&awsrds.PostgresInstanceEngineProps{Version: awsrds.PostgresEngineVersion_VER_17()})
	params := awsrds.NewParameterGroup(stack, jsii.String("DatabaseParameters"), &awsrds.ParameterGroupProps{
		Engine:      engine,
		Description: jsii.String("xkcdapp " + cfg.EnvName + ": TLS only"),
		Parameters:  &map[string]*string{"rds.force_ssl": jsii.String("1")},
	})
	return awsrds.NewDatabaseInstance(stack, jsii.String("Database"), &awsrds.DatabaseInstanceProps{
		Engine:         engine,
		InstanceType:   awsec2.NewInstanceType(jsii.String(cfg.DatabaseInstanceType)),
		Vpc:            vpc,
		VpcSubnets:     subnets,
		SecurityGroups: &[]awsec2.ISecurityGroup{sg},
		// The password lands in a URL's user info: keep to characters that
		// need no escaping anywhere.
		Credentials: awsrds.Credentials_FromGeneratedSecret(jsii.String(databaseUser), &awsrds.CredentialsBaseOptions{
			ExcludeCharacters: jsii.String(" %+~`#$&*()|[]{}:;<>?!'/@\"\\,=^"),
		}),
		DatabaseName:            jsii.String(databaseName),
		MultiAz:                 jsii.Bool(cfg.MultiAZ),
		AllocatedStorage:        jsii.Number(float64(cfg.DatabaseStorageGiB)),
		StorageType:             awsrds.StorageType_GP3,
		StorageEncrypted:        jsii.Bool(true),
		BackupRetention:         awscdk.Duration_Days(jsii.Number(databaseBackupDays)),
		DeleteAutomatedBackups:  jsii.Bool(false),
		DeletionProtection:      jsii.Bool(cfg.DeletionProtection),
		RemovalPolicy:           awscdk.RemovalPolicy_SNAPSHOT,
		ParameterGroup:          params,
		CaCertificate:           awsrds.CaCertificate_RDS_CA_RSA2048_G1(),
		PubliclyAccessible:      jsii.Bool(false),
		AutoMinorVersionUpgrade: jsii.Bool(true),
	})
}

// newCache is a Redis replication group in the isolated subnets: TLS in
// transit, an AUTH token, encrypted at rest; with multiAz, a replica in the
// other zone that takes over on failure.
func newCache(stack awscdk.Stack, cfg Config, vpc awsec2.IVpc, subnets *awsec2.SubnetSelection, sg awsec2.ISecurityGroup) (awselasticache.CfnReplicationGroup, awssecretsmanager.ISecret) {
	token := awssecretsmanager.NewSecret(stack, jsii.String("CacheToken"), &awssecretsmanager.SecretProps{
		Description: jsii.String("xkcdapp " + cfg.EnvName + ": Redis AUTH token"),
		// ElastiCache takes 16 to 128 printable characters, some excepted:
		// letters and digits are always safe, in a URL too.
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength:     jsii.Number(64),
			ExcludePunctuation: jsii.Bool(true),
			IncludeSpace:       jsii.Bool(false),
		},
	})
	group := awselasticache.NewCfnSubnetGroup(stack, jsii.String("CacheSubnets"), &awselasticache.CfnSubnetGroupProps{
		Description: jsii.String("xkcdapp " + cfg.EnvName + ": isolated subnets"),
		SubnetIds:   anys(*vpc.SelectSubnets(subnets).SubnetIds),
	})
	nodes := 1.0
	if cfg.MultiAZ {
		nodes = 2
	}
	cache := awselasticache.NewCfnReplicationGroup(stack, jsii.String("Cache"), &awselasticache.CfnReplicationGroupProps{
		ReplicationGroupDescription: jsii.String("xkcdapp " + cfg.EnvName + " sessions"),
		Engine:                      jsii.String("redis"),
		EngineVersion:               jsii.String("7.1"),
		CacheNodeType:               jsii.String(cfg.CacheNodeType),
		NumCacheClusters:            jsii.Number(nodes),
		AutomaticFailoverEnabled:    jsii.Bool(cfg.MultiAZ),
		MultiAzEnabled:              jsii.Bool(cfg.MultiAZ),
		TransitEncryptionEnabled:    jsii.Bool(true),
		AtRestEncryptionEnabled:     jsii.Bool(true),
		// A dynamic reference: CloudFormation resolves it when it creates
		// the group, so the token never appears in the template.
		AuthToken:            token.SecretValue().UnsafeUnwrap(),
		CacheSubnetGroupName: group.Ref(),
		SecurityGroupIds:     &[]*string{sg.SecurityGroupId()},
		Port:                 jsii.Number(6379),
		// Sessions are worth a day's snapshot, not more.
		SnapshotRetentionLimit: jsii.Number(1),
	})
	return cache, token
}

// secureParameters makes SSM SecureString parameters from secrets.
type secureParameters struct {
	stack    awscdk.Stack
	provider customresources.Provider
	key      awskms.IKey
}

// newSecureParameterProvider is the Lambda behind Custom::SecureParameter:
// it may read the secrets it is handed, write parameters under the prefix
// and encrypt with the settings key.
func newSecureParameterProvider(stack awscdk.Stack, key awskms.IKey, prefix string) *secureParameters {
	logs := func(id string) awslogs.LogGroup {
		return awslogs.NewLogGroup(stack, jsii.String(id), &awslogs.LogGroupProps{
			Retention:     lambdaLogRetention,
			RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
		})
	}
	fn := awslambda.NewFunction(stack, jsii.String("SecureParameterFunction"), &awslambda.FunctionProps{
		Runtime: awslambda.Runtime_NODEJS_22_X(),
		Handler: jsii.String("index.handler"),
		Code: awslambda.Code_FromAsset(jsii.String("secureparam"), &awss3assets.AssetOptions{
			Exclude: jsii.Strings("*.test.mjs"),
		}),
		Timeout:     awscdk.Duration_Minutes(jsii.Number(1)),
		Description: jsii.String("Copies generated secrets into SSM SecureString parameters under " + prefix),
		LogGroup:    logs("SecureParameterLogs"),
	})
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("ssm:PutParameter", "ssm:DeleteParameter"),
		Resources: jsii.Strings(parameterArn(stack, prefix[len("/xkcdapp/"):]+"*")),
	}))
	key.GrantEncrypt(fn)
	provider := customresources.NewProvider(stack, jsii.String("SecureParameterProvider"), &customresources.ProviderProps{
		OnEventHandler: fn,
		LogGroup:       logs("SecureParameterProviderLogs"),
	})
	return &secureParameters{stack: stack, provider: provider, key: key}
}

// parameter is one SecureString parameter holding secret's value (or one
// field of it), put into template where it says {{secret}}.
func (s *secureParameters) parameter(id, name string, secret awssecretsmanager.ISecret, field, template string) awscdk.CustomResource {
	secret.GrantRead(s.provider.OnEventHandler(), nil)
	props := map[string]any{
		"Name":      name,
		"SecretArn": *secret.SecretArn(),
		"KeyId":     *s.key.KeyArn(),
	}
	if field != "" {
		props["SecretField"] = field
	}
	if template != "" {
		props["Template"] = template
	}
	return awscdk.NewCustomResource(s.stack, jsii.String(id), &awscdk.CustomResourceProps{
		ServiceToken: s.provider.ServiceToken(),
		ResourceType: jsii.String("Custom::SecureParameter"),
		Properties:   &props,
	})
}

// newService is the Fargate service and its load balancer. The listeners
// are added by the caller, with the certificate.
func newService(stack awscdk.Stack, cfg Config, vpc awsec2.IVpc, subnets *awsec2.SubnetSelection,
	serviceSG, albSG awsec2.ISecurityGroup, taskRole awsiam.IRole) (awsecs.FargateService, elb.ApplicationTargetGroup, elb.ApplicationLoadBalancer) {
	cluster := awsecs.NewCluster(stack, jsii.String("Cluster"), &awsecs.ClusterProps{Vpc: vpc})

	arch, platform := awsecs.CpuArchitecture_X86_64(), awsecrassets.Platform_LINUX_AMD64()
	if cfg.Arm64 {
		arch, platform = awsecs.CpuArchitecture_ARM64(), awsecrassets.Platform_LINUX_ARM64()
	}
	task := awsecs.NewFargateTaskDefinition(stack, jsii.String("Task"), &awsecs.FargateTaskDefinitionProps{
		Cpu:            jsii.Number(float64(cfg.TaskCPU)),
		MemoryLimitMiB: jsii.Number(float64(cfg.TaskMemoryMiB)),
		RuntimePlatform: &awsecs.RuntimePlatform{
			CpuArchitecture:       arch,
			OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
		},
		TaskRole: taskRole,
	})
	logGroup := awslogs.NewLogGroup(stack, jsii.String("Logs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String("/xkcdapp/" + cfg.EnvName),
		Retention:     awslogs.RetentionDays_ONE_MONTH,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	// Any period CloudWatch accepts, not only those the enum names.
	logGroup.Node().DefaultChild().(awslogs.CfnLogGroup).SetRetentionInDays(jsii.Number(float64(cfg.LogRetentionDays)))

	// The build context has no .git: the version comes as a build argument.
	var buildArgs *map[string]*string
	if cfg.Version != "" {
		buildArgs = &map[string]*string{"VERSION": jsii.String(cfg.Version)}
	}
	task.AddContainer(jsii.String(containerApp), &awsecs.ContainerDefinitionOptions{
		Image: awsecs.ContainerImage_FromAsset(jsii.String(cfg.ImageDir), &awsecs.AssetImageProps{
			Exclude:   jsii.Strings(imageExclude...),
			Platform:  platform,
			BuildArgs: buildArgs,
		}),
		Essential: jsii.Bool(true),
		Logging: awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{
			LogGroup:     logGroup,
			StreamPrefix: jsii.String(containerApp),
		}),
		// Only what belongs to this deployment's shape; connection
		// settings and secrets come from SSM.
		Environment: &map[string]*string{
			"SSM_PREFIX":           jsii.String(cfg.SSMPrefix()),
			"AWS_REGION":           jsii.String(cfg.Region),
			"DATABASE_SSLMODE":     jsii.String("verify-full"),
			"DATABASE_SSLROOTCERT": jsii.String(cfg.DatabaseSSLRootCert),
			"DATABASE_MAX_CONNS":   jsii.String(strconv.Itoa(cfg.DatabaseMaxConns)),
			"LOG_FORMAT":           jsii.String("json"),
			// Go does not see the task's memory limit: without this, the
			// heap grows past it and the task is killed rather than
			// collecting garbage sooner. A fifth is left for stacks and
			// what is not heap.
			"GOMEMLIMIT": jsii.String(goMemLimit(cfg.TaskMemoryMiB)),
		},
		PortMappings:           &[]*awsecs.PortMapping{{ContainerPort: jsii.Number(appPort), Protocol: awsecs.Protocol_TCP}},
		StopTimeout:            awscdk.Duration_Seconds(jsii.Number(stopTimeoutSeconds)),
		ReadonlyRootFilesystem: jsii.Bool(true),
	})

	// No desired count in the template: CloudFormation would send it with
	// every update of the service (every new image) and undo what
	// autoscaling had set. ECS starts with one task; autoscaling raises it
	// to its floor, cfg.DesiredCount, at once.
	service := awsecs.NewFargateService(stack, jsii.String("Service"), &awsecs.FargateServiceProps{
		Cluster:                cluster,
		TaskDefinition:         task,
		MinHealthyPercent:      jsii.Number(100),
		MaxHealthyPercent:      jsii.Number(200),
		CircuitBreaker:         &awsecs.DeploymentCircuitBreaker{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)},
		HealthCheckGracePeriod: awscdk.Duration_Seconds(jsii.Number(healthCheckGraceSeconds)),
		SecurityGroups:         &[]awsec2.ISecurityGroup{serviceSG},
		VpcSubnets:             subnets,
		AssignPublicIp:         jsii.Bool(false),
	})

	alb := elb.NewApplicationLoadBalancer(stack, jsii.String("LoadBalancer"), &elb.ApplicationLoadBalancerProps{
		Vpc:                     vpc,
		InternetFacing:          jsii.Bool(true),
		SecurityGroup:           albSG,
		VpcSubnets:              &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC},
		IdleTimeout:             awscdk.Duration_Seconds(jsii.Number(idleTimeoutSeconds)),
		DropInvalidHeaderFields: jsii.Bool(true),
	})
	targetGroup := elb.NewApplicationTargetGroup(stack, jsii.String("Targets"), &elb.ApplicationTargetGroupProps{
		Vpc:                 vpc,
		Port:                jsii.Number(appPort),
		Protocol:            elb.ApplicationProtocol_HTTP,
		TargetType:          elb.TargetType_IP,
		DeregistrationDelay: awscdk.Duration_Seconds(jsii.Number(deregistrationSeconds)),
		HealthCheck: &elb.HealthCheck{
			Path:                    jsii.String("/readyz"),
			HealthyHttpCodes:        jsii.String("200"),
			Interval:                awscdk.Duration_Seconds(jsii.Number(healthCheckIntervalSecs)),
			Timeout:                 awscdk.Duration_Seconds(jsii.Number(5)),
			HealthyThresholdCount:   jsii.Number(2),
			UnhealthyThresholdCount: jsii.Number(3),
		},
		Targets: &[]elb.IApplicationLoadBalancerTarget{service.LoadBalancerTarget(&awsecs.LoadBalancerTargetOptions{
			ContainerName: jsii.String(containerApp),
			ContainerPort: jsii.Number(appPort),
		})},
	})
	return service, targetGroup, alb
}

// anys is ids as the []any some L1 properties take.
func anys(ids []*string) *[]any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return &out
}

// goMemLimit is the Go runtime's soft memory limit for a task of
// memoryMiB: four fifths of it.
func goMemLimit(memoryMiB int) string {
	return strconv.Itoa(memoryMiB*4/5) + "MiB"
}
