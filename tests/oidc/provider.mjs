// SPDX-License-Identifier: LGPL-2.1-or-later
//
// provider.mjs: a real OpenID Connect provider (the certified npm
// oidc-provider) for herald's sign-in tests, on 127.0.0.1 only. Not for
// anything but tests: devInteractions accepts any login and password.
//
//   node provider.mjs PORT [CLIENT_ID CLIENT_SECRET REDIRECT_URI] [--alg RS256|ES256]
//
// The client may also come from OIDC_CLIENT_ID, OIDC_CLIENT_SECRET and
// OIDC_REDIRECT_URI. One confidential client (client_secret_basic, PKCE
// S256 required); the login becomes `sub` and `preferred_username`, and the
// ID token carries the profile claims itself (conformIdTokenClaims off), as
// Ipsilon and Keycloak do. A fresh signing key each start. Prints "ready"
// on stdout once it listens.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';

const args = process.argv.slice(2);
let alg = 'RS256';
const pos = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--alg') alg = args[++i];
  else pos.push(args[i]);
}
const port = Number(pos[0]);
const clientId = pos[1] || process.env.OIDC_CLIENT_ID;
const clientSecret = pos[2] || process.env.OIDC_CLIENT_SECRET;
const redirectUri = pos[3] || process.env.OIDC_REDIRECT_URI;
if (!port || !clientId || !clientSecret || !redirectUri || !['RS256', 'ES256'].includes(alg)) {
  console.error('usage: node provider.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI [--alg RS256|ES256]');
  process.exit(2);
}

function signingKey() {
  const { privateKey } = alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg };
}

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: alg,
  }],
  jwks: { keys: [signingKey()] },
  enabledJWA: { idTokenSigningAlgValues: [alg] },
  pkce: { required: () => true },
  conformIdTokenClaims: false,
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name'],
    email: ['email', 'email_verified'],
  },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, preferred_username: id, name: id, email: `${id}@example.org`, email_verified: true };
      },
    };
  },
});
// Plain http on loopback: the cookies cannot be Secure-only.
provider.proxy = false;

const server = provider.listen(port, '127.0.0.1', () => {
  process.stdout.write('ready\n');
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
