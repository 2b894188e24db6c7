// node --test: the custom resource's logic against an in-memory parameter
// store and secret store standing in for SSM and Secrets Manager.
import assert from "node:assert/strict";
import { test } from "node:test";
import { makeHandler, value } from "./handler.mjs";

function fakeAWS(secrets) {
  const params = new Map();
  return {
    params,
    handler: makeHandler({
      async getSecret(arn) {
        if (!secrets.has(arn)) throw Object.assign(new Error(`no secret ${arn}`), { name: "ResourceNotFoundException" });
        return secrets.get(arn);
      },
      async putSecureString(name, value, keyId) {
        params.set(name, { value, keyId, type: "SecureString" });
      },
      async deleteParameter(name) {
        return params.delete(name);
      },
    }),
  };
}

const dbArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db";
const tokenArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:token";
const key = "arn:aws:kms:eu-west-1:123456789012:key/k";

test("create copies a field of the secret's JSON into a SecureString", async () => {
  const aws = fakeAWS(new Map([[dbArn, JSON.stringify({ username: "xkcdapp", password: "s3cr3t-Pw" })]]));
  const out = await aws.handler({
    RequestType: "Create",
    ResourceProperties: { Name: "/xkcdapp/prod/DATABASE_PASSWORD", SecretArn: dbArn, SecretField: "password", KeyId: key },
  });
  assert.deepEqual(out, { PhysicalResourceId: "/xkcdapp/prod/DATABASE_PASSWORD" });
  assert.deepEqual(aws.params.get("/xkcdapp/prod/DATABASE_PASSWORD"), { value: "s3cr3t-Pw", keyId: key, type: "SecureString" });
});

test("a template gets the secret URL-escaped", async () => {
  const aws = fakeAWS(new Map([[tokenArn, "tok/en:@%"]]));
  await aws.handler({
    RequestType: "Create",
    ResourceProperties: { Name: "/xkcdapp/prod/REDIS_URL", SecretArn: tokenArn, Template: "rediss://:{{secret}}@cache.example:6379", KeyId: key },
  });
  const url = new URL(aws.params.get("/xkcdapp/prod/REDIS_URL").value);
  assert.equal(url.protocol, "rediss:");
  assert.equal(url.hostname, "cache.example");
  assert.equal(decodeURIComponent(url.password), "tok/en:@%");
});

test("update overwrites; a renamed parameter gets a new physical id", async () => {
  const secrets = new Map([[tokenArn, "one"]]);
  const aws = fakeAWS(secrets);
  const props = { Name: "/xkcdapp/prod/REDIS_URL", SecretArn: tokenArn, KeyId: key };
  await aws.handler({ RequestType: "Create", ResourceProperties: props });
  secrets.set(tokenArn, "two");
  const out = await aws.handler({ RequestType: "Update", PhysicalResourceId: props.Name, ResourceProperties: props });
  assert.equal(out.PhysicalResourceId, props.Name);
  assert.equal(aws.params.get(props.Name).value, "two");
  const renamed = await aws.handler({
    RequestType: "Update",
    PhysicalResourceId: props.Name,
    ResourceProperties: { ...props, Name: "/xkcdapp/prod/REDIS_URL_2" },
  });
  assert.equal(renamed.PhysicalResourceId, "/xkcdapp/prod/REDIS_URL_2");
});

test("delete removes the parameter, and succeeds when it is already gone", async () => {
  const aws = fakeAWS(new Map([[tokenArn, "t"]]));
  const props = { Name: "/xkcdapp/prod/REDIS_URL", SecretArn: tokenArn, KeyId: key };
  await aws.handler({ RequestType: "Create", ResourceProperties: props });
  const del = { RequestType: "Delete", PhysicalResourceId: props.Name, ResourceProperties: props };
  assert.deepEqual(await aws.handler(del), { PhysicalResourceId: props.Name });
  assert.equal(aws.params.has(props.Name), false);
  assert.deepEqual(await aws.handler(del), { PhysicalResourceId: props.Name });
});

test("a missing field fails without showing the secret", () => {
  const secret = JSON.stringify({ username: "xkcdapp", pass: "do-not-print" });
  assert.throws(() => value({ SecretArn: dbArn, SecretField: "password" }, secret), (err) => {
    assert.match(err.message, /has no field password/);
    assert.doesNotMatch(err.message, /do-not-print/);
    return true;
  });
  assert.throws(() => value({ SecretArn: dbArn, SecretField: "password" }, "not json do-not-print"), (err) => !err.message.includes("do-not-print"));
  assert.throws(() => value({ SecretArn: tokenArn }, ""), /has no value/);
});

test("a failing secret read fails the request and writes nothing", async () => {
  const aws = fakeAWS(new Map());
  await assert.rejects(aws.handler({
    RequestType: "Create",
    ResourceProperties: { Name: "/xkcdapp/prod/X", SecretArn: dbArn, KeyId: key },
  }), /no secret/);
  assert.equal(aws.params.size, 0);
});
