// Custom::SecureParameter: copies a secret from Secrets Manager into an SSM
// SecureString parameter, which CloudFormation cannot create itself. The
// value never passes through the template, the event or the logs: only the
// secret's ARN does. Properties:
//   Name         the parameter, e.g. /xkcdapp/prod/DATABASE_PASSWORD
//   SecretArn    where the value comes from
//   SecretField  optional: a key of the secret's JSON (e.g. "password")
//   Template     optional: the value with {{secret}} in it, e.g.
//                rediss://:{{secret}}@host:6379 (the secret is URL-escaped there)
//   KeyId        the KMS key that encrypts the parameter
// The Lambda runtime provides the AWS SDK for JavaScript v3.
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { DeleteParameterCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";

const secrets = new SecretsManagerClient({});
const ssm = new SSMClient({});

export async function handler(event) {
  const p = event.ResourceProperties;
  if (event.RequestType === "Delete") {
    try {
      await ssm.send(new DeleteParameterCommand({ Name: event.PhysicalResourceId }));
    } catch (err) {
      if (err.name !== "ParameterNotFound") throw err;
    }
    return { PhysicalResourceId: event.PhysicalResourceId };
  }
  const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: p.SecretArn }));
  let secret = SecretString;
  if (p.SecretField) {
    secret = JSON.parse(SecretString)[p.SecretField];
  }
  if (typeof secret !== "string" || secret === "") {
    // Name the field, never the value.
    throw new Error(`secret ${p.SecretArn} has no ${p.SecretField ? `field ${p.SecretField}` : "value"}`);
  }
  const value = p.Template ? p.Template.split("{{secret}}").join(encodeURIComponent(secret)) : secret;
  await ssm.send(new PutParameterCommand({
    Name: p.Name,
    Type: "SecureString",
    KeyId: p.KeyId,
    Value: value,
    Overwrite: true,
  }));
  // A new Name is a new physical id: CloudFormation then deletes the old one.
  return { PhysicalResourceId: p.Name };
}
