// The Lambda behind Custom::SecureParameter (see handler.mjs), wired to the
// AWS SDK for JavaScript v3 that the Lambda runtime provides.
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { DeleteParameterCommand, PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { makeHandler } from "./handler.mjs";

const secrets = new SecretsManagerClient({});
const ssm = new SSMClient({});

export const handler = makeHandler({
  async getSecret(arn) {
    const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: arn }));
    return SecretString;
  },
  async putSecureString(name, value, keyId) {
    await ssm.send(new PutParameterCommand({ Name: name, Type: "SecureString", KeyId: keyId, Value: value, Overwrite: true }));
  },
  async deleteParameter(name) {
    try {
      await ssm.send(new DeleteParameterCommand({ Name: name }));
      return true;
    } catch (err) {
      if (err.name === "ParameterNotFound") return false;
      throw err;
    }
  },
});
