// The OpenID Provider the test suite signs in with: node oidc-provider with
// its development login pages (any login name signs in as that account, any
// password), one confidential client, and accounts that carry groups.
//
//   node provider.mjs PORT REDIRECT_URI [userinfo-only]
//
// With `userinfo-only`, claims beyond `sub` are served only by UserInfo,
// as some providers do with groups.
import Provider from 'oidc-provider';

const [port, redirectUri, mode] = process.argv.slice(2);
const groupsOf = {
  ana: ['mpp-admins', 'staff'],
  ben: ['mpp-reviewers'],
  cid: ['staff'],
};

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: 'mpp-registrar',
    client_secret: 'suite-client-secret-not-for-production',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  claims: { openid: ['sub'], profile: ['preferred_username', 'groups'], email: ['email'] },
  scopes: ['openid', 'profile', 'email'],
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['suite-cookie-key-not-for-production'] },
  conformIdTokenClaims: mode === 'userinfo-only',
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          preferred_username: sub,
          email: `${sub}@wallet.example`,
          groups: groupsOf[sub] ?? [],
        };
      },
    };
  },
});
provider.listen(Number(port), '127.0.0.1', () => console.log('ready'));
