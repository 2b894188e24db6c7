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

// makeHandler is the custom resource's handler over the three calls it
// makes: getSecret(arn) returns the secret's string, putSecureString(name,
// value, keyId) overwrites a parameter, deleteParameter(name) resolves
// false when there was none.
export function makeHandler({ getSecret, putSecureString, deleteParameter }) {
  return async function handler(event) {
    const p = event.ResourceProperties;
    if (event.RequestType === "Delete") {
      await deleteParameter(event.PhysicalResourceId);
      return { PhysicalResourceId: event.PhysicalResourceId };
    }
    await putSecureString(p.Name, value(p, await getSecret(p.SecretArn)), p.KeyId);
    // A new Name is a new physical id: CloudFormation then deletes the old one.
    return { PhysicalResourceId: p.Name };
  };
}

// value is what the parameter holds: the secret, or one field of its JSON,
// put into the template if there is one.
export function value(p, secretString) {
  let secret = secretString;
  if (p.SecretField) {
    try {
      secret = JSON.parse(secretString)[p.SecretField];
    } catch {
      secret = undefined;
    }
  }
  if (typeof secret !== "string" || secret === "") {
    // Name the field, never the value.
    throw new Error(`secret ${p.SecretArn} has no ${p.SecretField ? `field ${p.SecretField}` : "value"}`);
  }
  return p.Template ? p.Template.split("{{secret}}").join(encodeURIComponent(secret)) : secret;
}
