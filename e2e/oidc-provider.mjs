// A real OpenID provider for the tests (npm `oidc-provider`), with one client registered for
// Conclave. Usage:
//   node oidc-provider.mjs --port P --client-id ID --client-secret S --redirect URI [--kid K] [--auto-login]
// Prints "ready <issuer>" once it listens. Accounts: any email signs in with the password
// "provider password"; users whose address starts with "admin" are in the group "conclave-admins",
// everyone is in "engineering". `--kid` names the signing key, so a restart with another kid is
// a key rotation. `--auto-login` finishes the login for `login_hint` without a page (for API tests).
import { generateKeyPairSync } from "node:crypto";
import { parseArgs } from "node:util";
import Provider from "oidc-provider";

const { values: args } = parseArgs({
  options: {
    port: { type: "string" }, "client-id": { type: "string" }, "client-secret": { type: "string" },
    redirect: { type: "string" }, kid: { type: "string", default: "key-1" }, "auto-login": { type: "boolean", default: false },
  },
});
const issuer = `http://127.0.0.1:${args.port}`;
const PASSWORD = "provider password";

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: "jwk" }), kid: args.kid, use: "sig", alg: "RS256" };

const provider = new Provider(issuer, {
  clients: [{
    client_id: args["client-id"], client_secret: args["client-secret"], redirect_uris: [args.redirect],
    response_types: ["code"], grant_types: ["authorization_code"], token_endpoint_auth_method: "client_secret_basic",
  }],
  jwks: { keys: [jwk] },
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"], groups: ["groups"] },
  scopes: ["openid", "email", "profile", "groups"],
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ["conclave-test-provider-cookie-key"] },
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => {
      const claims = {
        // Addresses starting "unverified" stand for a self-registered, never-confirmed email.
        sub: id, email: id, email_verified: !id.startsWith("unverified"), name: id.split("@")[0],
        groups: id.startsWith("admin") ? ["conclave-admins", "engineering"] : ["engineering"],
      };
      // Addresses starting "noclaim" stand for a directory that never sends email_verified.
      if (id.startsWith("noclaim")) delete claims.email_verified;
      return claims;
    },
  }),
});

async function finish(ctx, accountId) {
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId }, consent: { grantId } }, { mergeWithLastSubmission: false });
}

const page = (uid, error) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test provider sign-in</title></head>
<body><h1>Test identity provider</h1>${error ? `<p id="error">${error}</p>` : ""}
<form method="post" action="/interaction/${uid}"><label>Email <input id="login" name="login"></label>
<label>Password <input id="password" name="password" type="password"></label><button id="provider-submit" type="submit">Sign in</button></form></body></html>`;

provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([^/]+)$/);
  if (!match) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (ctx.method === "GET") {
    if (args["auto-login"] && details.params.login_hint) return finish(ctx, details.params.login_hint);
    ctx.type = "html";
    ctx.body = page(match[1]);
    return undefined;
  }
  const body = await new Promise((resolve) => {
    let data = "";
    ctx.req.on("data", (c) => { data += c; });
    ctx.req.on("end", () => resolve(new URLSearchParams(data)));
  });
  if (body.get("password") !== PASSWORD || !body.get("login")?.includes("@")) {
    ctx.type = "html";
    ctx.body = page(match[1], "Wrong email or password.");
    return undefined;
  }
  return finish(ctx, body.get("login"));
});

provider.listen(Number(args.port), "127.0.0.1", () => console.log(`ready ${issuer}`));
