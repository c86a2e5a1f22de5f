// A real OpenID Connect provider for Lectern's integration tests: the npm package
// `oidc-provider` (OpenID Certified), listening on 127.0.0.1 only.
//
//   node tests/oidc/provider.mjs PORT            (or OIDC_PORT=PORT)
//
// Environment:
//   OIDC_CLIENT_ID, OIDC_CLIENT_SECRET   the one confidential client Lectern logs in with
//   OIDC_REDIRECT_URIS                   its callbacks, separated by spaces
//   OIDC_OTHER_CLIENT_ID/_SECRET         optional second client (same callbacks), so that a
//                                        test can obtain an ID token issued to someone else
//   OIDC_ACCOUNTS                        JSON {"ada": {"email": ..., "email_verified": true, "name": ...}}
//
// The provider's own development interactions stay on: its login form takes any login name
// (the account id; the password is ignored), then a consent form ("Continue"); "[ Cancel ]"
// ends the interaction with error=access_denied. Prints "READY <issuer>" once listening and
// exits on SIGTERM or SIGINT.

import Provider from 'oidc-provider';

const port = Number(process.argv[2] ?? process.env.OIDC_PORT);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: node provider.mjs PORT (or OIDC_PORT=PORT)');
  process.exit(2);
}

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is required`);
    process.exit(2);
  }
  return value;
}

const issuer = `http://127.0.0.1:${port}`;
const redirectUris = required('OIDC_REDIRECT_URIS').split(/\s+/).filter(Boolean);
const accounts = JSON.parse(process.env.OIDC_ACCOUNTS || '{}');

const client = (clientId, clientSecret) => ({
  client_id: clientId,
  client_secret: clientSecret,
  redirect_uris: redirectUris,
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
});

const clients = [client(required('OIDC_CLIENT_ID'), required('OIDC_CLIENT_SECRET'))];
if (process.env.OIDC_OTHER_CLIENT_ID) {
  clients.push(client(process.env.OIDC_OTHER_CLIENT_ID, required('OIDC_OTHER_CLIENT_SECRET')));
}

const configuration = {
  clients,
  responseTypes: ['code'],
  scopes: ['openid', 'email', 'profile'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  // The default, stated: with response_type=code the ID token carries only `sub` (and the
  // protocol claims); email and name come from the userinfo endpoint.
  conformIdTokenClaims: true,
  // Every client must send a PKCE challenge (S256 is the only method oidc-provider accepts).
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
  },
  // Test-only cookie signing key; the signing keys for tokens are oidc-provider's
  // development keys (generated at start).
  cookies: { keys: ['lectern-tests-only-not-a-secret'] },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...account };
      },
    };
  },
};

const provider = new Provider(issuer, configuration);
provider.on('server_error', (ctx, error) => console.error('server_error', error));

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`READY ${issuer}`);
});
server.on('error', (error) => {
  console.error(error.message);
  process.exit(1);
});

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
