// flyte-auth's test identity provider: a real OpenID Connect provider (oidc-provider 9, panva,
// OpenID Certified) configured for the project's tests and demo. See README.md beside this file.
//
// Start:   node server.mjs            (after `npm ci --no-audit --no-fund` in this directory)
// Output:  exactly one line on stdout, the issuer URL (e.g. `http://127.0.0.1:41234`), once the
//          server accepts requests. Everything else goes to stderr. SIGTERM/SIGINT exit with 0.
//
// Environment knobs:
//   IDP_PORT              port to bind on 127.0.0.1 (default 0: any free port)
//   IDP_USER              account id that the headless login signs in (default `alice`)
//   IDP_DEVICE_INTERVAL   `interval` (whole seconds, 0 allowed) added to device authorization
//                         responses (default 1)
//   IDP_DEVICE_CODE_TTL   device code lifetime (whole seconds, at least 1; default 600): the
//                         provider's ttl.DeviceCode and the `expires_in` of device
//                         authorization responses
//   IDP_FLYTE_CLIENT_ID   client_id served by GET /config/v1/flyte_client (default `flyte-cli`)
//   IDP_EXIT_ON_STDIN_EOF `1`: exit when stdin reaches end of file, so a launcher that dies
//                         (even by SIGKILL) never leaves the provider behind (the Rust launcher
//                         sets it and keeps the pipe open)
//   DEBUG=oidc-provider:* the provider's own debug log (stderr)
//
// Clients (all static, in code below):
//   flyte-cli        public native client (auth `none`), grants authorization_code, refresh_token,
//                    device_code; redirect URIs http://127.0.0.1/callback, http://localhost/callback,
//                    http://[::1]/callback (the port is ignored for loopback hosts, RFC 8252 §7.3;
//                    the host, path and query must match). PKCE (S256) is required, as the provider
//                    does for every client without authentication. Access token TTL 3600 s.
//   flyte-cli-short  same as flyte-cli, access token TTL 2 s.
//   device-slow      same as flyte-cli, but the first 2 device-code polls that would be
//                    `authorization_pending` are answered `slow_down` (400), per device_code.
//   cc-basic         secret `cc-basic-secret`, client_secret_basic, client_credentials, TTL 3600 s
//   cc-post          secret `cc-post-secret`, client_secret_post, client_credentials, TTL 3600 s
//   cc-special       secret `p@ss:w+rd/% &=z`, client_secret_basic (id and secret must be
//                    form-urlencoded before base64, RFC 6749 §2.3.1; the raw secret is rejected)
//   cc-short         secret `cc-short-secret`, client_secret_basic, access token TTL 2 s
//   pkjwt-rs256      private_key_jwt (RFC 7523) with an RSA key (kid client-rs256), client_credentials
//   pkjwt-es256      private_key_jwt with a P-256 key (kid client-es256), client_credentials
//   federated        private_key_jwt whose JWKS is the "cluster issuer" key (kid cluster-issuer):
//                    a service-account-like JWT minted with that key (iss = sub = `federated`,
//                    aud = the token endpoint) is its client assertion. The provider refuses a
//                    replayed jti. Private keys: GET /test/client-keys (PKCS#8 PEM).
//   exchanger        secret `exchanger-secret`, client_secret_basic, grants client_credentials and
//                    token exchange (RFC 8693, below)
//   A confidential client that authenticates with the other method (Basic vs. form post) gets
//   401 invalid_client (the provider alone accepts both).
//
// Behaviour:
//   - Headless login: GET /interaction/:uid finishes the pending prompt at once (login as
//     $IDP_USER, then consent to everything requested), so any cookie-keeping HTTP client that
//     follows redirects plays the browser: /auth -> /interaction/<uid> -> /auth/<uid> ->
//     /interaction/<uid2> -> /auth/<uid2> -> 303 to the redirect URI with code, state and iss.
//   - Refresh tokens: issued for every authorization_code / device_code grant of a client that
//     may use refresh_token (no offline_access or prompt=consent needed); public clients' refresh
//     tokens rotate, and reusing a rotated one revokes the whole grant.
//   - `audience=X` (Auth0 style) is treated as `resource=X` (RFC 8707) at /auth, /token and
//     /device/auth when no `resource` is given. Tokens for a resource are JWTs with aud = X.
//   - Device authorization responses carry `interval` ($IDP_DEVICE_INTERVAL).
//   - Expired device codes stay stored for DEVICE_CODE_RETENTION seconds past their expiry, so
//     that a poll after the expiry is answered `expired_token` (RFC 8628 §3.5), as a provider
//     with persistent storage answers it, rather than `invalid_grant` (code not found) once the
//     in-memory store dropped the code.
//   - clockTolerance is 0: an expired token is expired.
//
//   - Token exchange (RFC 8693, grant urn:ietf:params:oauth:grant-type:token-exchange, client
//     `exchanger`): the subject token must be an access token this provider issued and that is
//     still valid (subject_token_type ...:access_token); the answer is an RS256 JWT access
//     token signed with the provider's key, sub = the subject token's account or client,
//     aud = `audience` (else `resource`, else the issuer), act.sub = the exchanging client,
//     lifetime $IDP_EXCHANGE_TTL seconds (default 3600). Anything else is invalid_grant or
//     invalid_request.
//
// Extra routes (outside the provider):
//   GET  /test/stats          {"token": {"<client_id>": n}, "device_authorization": {...}}
//   POST /test/stats/reset    zero the counters (204)
//   GET  /test/client-keys    {"pkjwt-rs256": PEM, "pkjwt-es256": PEM, "cluster-issuer": PEM}
//   GET  /.well-known/oauth-authorization-server   RFC 8414 metadata (= openid-configuration)
//   GET  /config/v1/flyte_client                   Flyte AuthMetadataService public client config

import * as crypto from 'node:crypto';
import * as http from 'node:http';

// stdout carries the issuer line only: route every console printer but console.error to stderr
// (oidc-provider prints notices with console.info), and drop the known-harmless warnings.
const QUIET = [
  'Unsupported runtime', // Node 20: every flow works
  'already parsed request body', // our middleware reads token request bodies first, on purpose
  'in-memory adapter', // a test provider: state lives and dies with the process
];
const toStderr = (...args) => console.error(...args);
console.log = toStderr;
console.info = toStderr;
console.debug = toStderr;
console.warn = (...args) => {
  if (typeof args[0] === 'string' && QUIET.some((q) => args[0].includes(q))) return;
  toStderr(...args);
};

// The signing key is generated per start and never written anywhere. RSA key generation takes
// 50-500 ms, so it runs on libuv's thread pool while the provider's modules load.
const signingKeyPromise = new Promise((resolve, reject) => {
  crypto.generateKeyPair('rsa', { modulusLength: 2048 }, (err, _publicKey, privateKey) => {
    if (err) reject(err);
    else resolve({ ...privateKey.export({ format: 'jwk' }), kid: 'test-idp-rs256', alg: 'RS256', use: 'sig' });
  });
});

// Keys of the private_key_jwt test clients and of a "cluster issuer" that mints
// service-account-like JWTs, generated per start; tests fetch the private halves from
// GET /test/client-keys (a test provider: nothing here protects real credentials).
const generate = (type, options) => new Promise((resolve, reject) => {
  crypto.generateKeyPair(type, options, (err, publicKey, privateKey) => {
    if (err) reject(err);
    else resolve({ publicKey, privateKey });
  });
});
const clientKeysPromise = Promise.all([
  generate('rsa', { modulusLength: 2048 }),
  generate('ec', { namedCurve: 'P-256' }),
  generate('rsa', { modulusLength: 2048 }),
]);

const { default: Provider } = await import('oidc-provider');
// The provider's own in-memory adapter (the one it uses when none is configured), wrapped below.
const { createMemoryAdapter } = await import('oidc-provider/lib/adapters/memory_adapter.js');

const env = (name, fallback) => {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : value;
};
const PORT = Number(env('IDP_PORT', '0'));
const USER = env('IDP_USER', 'alice');
const DEVICE_INTERVAL = Number(env('IDP_DEVICE_INTERVAL', '1'));
const FLYTE_CLIENT_ID = env('IDP_FLYTE_CLIENT_ID', 'flyte-cli');
const DEVICE_CODE_TTL = Number(env('IDP_DEVICE_CODE_TTL', '600'));

if (!Number.isInteger(PORT) || PORT < 0 || PORT > 65535) {
  console.error(`invalid IDP_PORT: ${process.env.IDP_PORT}`);
  process.exit(2);
}
if (!Number.isInteger(DEVICE_INTERVAL) || DEVICE_INTERVAL < 0) {
  console.error(`invalid IDP_DEVICE_INTERVAL: ${process.env.IDP_DEVICE_INTERVAL}`);
  process.exit(2);
}
if (!Number.isInteger(DEVICE_CODE_TTL) || DEVICE_CODE_TTL < 1) {
  console.error(`invalid IDP_DEVICE_CODE_TTL: ${process.env.IDP_DEVICE_CODE_TTL}`);
  process.exit(2);
}

// ---- storage -----------------------------------------------------------------------------------

// The in-memory adapter drops an entry when its lifetime ends, so a device code polled after its
// expiry would be "not found" (invalid_grant). Device codes are kept this much longer; the
// provider still checks the code's own expiry and answers expired_token.
const DEVICE_CODE_RETENTION = 300;
const memoryAdapter = createMemoryAdapter(0); // clockTolerance, as configured below
const adapter = (model) => {
  const inner = memoryAdapter(model);
  if (model === 'DeviceCode') {
    const upsert = inner.upsert.bind(inner);
    inner.upsert = (id, payload, expiresIn) => upsert(
      id,
      payload,
      typeof expiresIn === 'number' ? expiresIn + DEVICE_CODE_RETENTION : expiresIn,
    );
  }
  return inner;
};

// ---- clients ---------------------------------------------------------------------------------

const LOOPBACK_REDIRECTS = [
  'http://127.0.0.1/callback',
  'http://localhost/callback',
  'http://[::1]/callback',
];
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

const publicClient = (clientId) => ({
  client_id: clientId,
  application_type: 'native',
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token', DEVICE_GRANT],
  response_types: ['code'],
  redirect_uris: LOOPBACK_REDIRECTS,
});

const confidentialClient = (clientId, secret, method) => ({
  client_id: clientId,
  client_secret: secret,
  token_endpoint_auth_method: method,
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
});

const [rsaClientKey, ecClientKey, clusterKey] = await clientKeysPromise;
const publicJwk = (pair, kid, alg) => ({ ...pair.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' });
const privatePem = (pair) => pair.privateKey.export({ format: 'pem', type: 'pkcs8' });
const assertionClient = (clientId, keys) => ({
  client_id: clientId,
  token_endpoint_auth_method: 'private_key_jwt',
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  jwks: { keys },
});

const CLIENTS = [
  publicClient('flyte-cli'),
  publicClient('flyte-cli-short'),
  publicClient('device-slow'),
  // Rotates every refresh token with reuse detection (OAuth 2.1): spending a rotated token
  // again revokes the whole grant. Access tokens live 20 s.
  publicClient('flyte-cli-rotating'),
  confidentialClient('cc-basic', 'cc-basic-secret', 'client_secret_basic'),
  confidentialClient('cc-post', 'cc-post-secret', 'client_secret_post'),
  confidentialClient('cc-special', 'p@ss:w+rd/% &=z', 'client_secret_basic'),
  confidentialClient('cc-short', 'cc-short-secret', 'client_secret_basic'),
  assertionClient('pkjwt-rs256', [publicJwk(rsaClientKey, 'client-rs256', 'RS256')]),
  assertionClient('pkjwt-es256', [publicJwk(ecClientKey, 'client-es256', 'ES256')]),
  assertionClient('federated', [publicJwk(clusterKey, 'cluster-issuer', 'RS256')]),
  {
    ...confidentialClient('exchanger', 'exchanger-secret', 'client_secret_basic'),
    grant_types: ['client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange'],
  },
];
const AUTH_METHOD = new Map(CLIENTS.map((c) => [c.client_id, c.token_endpoint_auth_method]));

const SHORT_LIVED = new Set(['flyte-cli-short', 'cc-short']);
const ROTATING = new Set(['flyte-cli-rotating']);
const accessTokenTTL = (client) => {
  if (client && SHORT_LIVED.has(client.clientId)) return 2;
  if (client && ROTATING.has(client.clientId)) return 20;
  return 3600;
};
const SLOW_DOWN_POLLS = 2;

// ---- accounts ----------------------------------------------------------------------------------

const findAccount = async (_ctx, accountId) => ({
  accountId,
  claims: async () => ({
    sub: accountId,
    email: `${accountId}@example.com`,
    email_verified: true,
    name: `${accountId.charAt(0).toUpperCase()}${accountId.slice(1)} Example`,
  }),
});

// ---- bind first: the issuer needs the port ----------------------------------------------------

const server = http.createServer();
server.keepAliveTimeout = 5000;
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(PORT, '127.0.0.1', resolve);
});
const ISSUER = `http://127.0.0.1:${server.address().port}`;
const signingKey = await signingKeyPromise;

// ---- the provider ------------------------------------------------------------------------------

const provider = new Provider(ISSUER, {
  adapter,
  clients: CLIENTS,
  jwks: { keys: [signingKey] },
  findAccount,
  clockTolerance: 0,
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'offline_access', 'profile', 'email', 'all', 'offline'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  extraParams: ['audience'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // Test provider: any authenticated client may introspect any token.
      allowedPolicy: async () => true,
    },
    revocation: {
      enabled: true,
      allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
    },
    deviceFlow: {
      enabled: true,
      userCodeInputSource: async (ctx, form, _out, err) => {
        let msg;
        if (err && err.name === 'AbortedError') {
          msg = '<p id="device-aborted">The Sign-in request was aborted.</p>';
        } else if (err) {
          msg = `<p id="device-error">${escapeHtml(err.message || 'error')}</p>`;
        } else {
          msg = '<p>Enter the code displayed on your device</p>';
        }
        ctx.body = page('Sign-in', `${msg}${form}<button type="submit" form="op.deviceInputForm">Continue</button>`);
      },
      userCodeConfirmSource: async (ctx, form, client, _deviceInfo, userCode) => {
        ctx.body = page('Confirm Device', `<p>${escapeHtml(client.clientId)}: <code>${escapeHtml(userCode)}</code></p>${form}`
          + '<button type="submit" form="op.deviceConfirmForm">Continue</button>'
          + '<button type="submit" form="op.deviceConfirmForm" value="yes" name="abort">Abort</button>');
      },
      successSource: async (ctx) => {
        ctx.body = page('Sign-in Success', '<p id="device-success">Your sign-in was successful, you can now close this page.</p>');
      },
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf,
      // A code or device grant for a resource yields tokens for it without repeating `resource`.
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resourceIndicator, client) => ({
        scope: 'openid offline_access profile email all offline',
        audience: resourceIndicator,
        accessTokenTTL: accessTokenTTL(client),
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  pkce: {
    // The provider's default, written out: PKCE is required for clients without authentication.
    required: (_ctx, client) => client.clientAuthMethod === 'none',
  },
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: (ctx) => {
    const { RefreshToken: refreshToken, Client: client } = ctx.oidc.entities;
    if (ROTATING.has(client.clientId)) return true;
    // The provider's default for every other client.
    if (refreshToken.totalLifetime() >= 365.25 * 24 * 60 * 60) return false;
    if (client.clientAuthMethod === 'none' && !refreshToken.isSenderConstrained()) return true;
    return refreshToken.ttlPercentagePassed() >= 70;
  },
  expiresWithSession: async () => false,
  ttl: {
    AccessToken: (_ctx, _token, client) => accessTokenTTL(client),
    ClientCredentials: (_ctx, _token, client) => accessTokenTTL(client),
    AuthorizationCode: 60,
    DeviceCode: DEVICE_CODE_TTL,
    IdToken: 3600,
    Grant: 14 * 24 * 3600,
    Interaction: 3600,
    RefreshToken: 14 * 24 * 3600,
    Session: 14 * 24 * 3600,
    BackchannelAuthenticationRequest: 600,
    PreAuthorizedCode: 600,
  },
  interactions: {
    url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = page('Error', `<pre id="error">${escapeHtml(JSON.stringify(out, null, 2))}</pre>`);
  },
});

// ---- token exchange (RFC 8693) -------------------------------------------------------------------

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const EXCHANGE_TTL = Number(env('IDP_EXCHANGE_TTL', '3600'));
const signingPrivateKey = crypto.createPrivateKey({ key: signingKey, format: 'jwk' });

function signJwt(payload) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${part({ alg: 'RS256', typ: 'at+jwt', kid: signingKey.kid })}.${part(payload)}`;
  return `${input}.${crypto.sign('sha256', Buffer.from(input), signingPrivateKey).toString('base64url')}`;
}

provider.registerGrantType(TOKEN_EXCHANGE, async (ctx) => {
  const { params, client } = ctx.oidc;
  ctx.set('cache-control', 'no-store');
  const fail = (error, description) => {
    ctx.status = 400;
    ctx.body = { error, error_description: description };
  };
  if (!params.subject_token || !params.subject_token_type) {
    fail('invalid_request', 'subject_token and subject_token_type are required');
    return;
  }
  if (params.subject_token_type !== ACCESS_TOKEN_TYPE) {
    fail('invalid_request', `unsupported subject_token_type ${params.subject_token_type}`);
    return;
  }
  const found = (await provider.ClientCredentials.find(params.subject_token))
    ?? (await provider.AccessToken.find(params.subject_token));
  if (!found || found.isExpired) {
    fail('invalid_grant', 'the subject token is not a valid access token of this issuer');
    return;
  }
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    iss: ISSUER,
    sub: found.accountId ?? found.clientId,
    aud: params.audience || params.resource || ISSUER,
    client_id: client.clientId,
    act: { sub: client.clientId },
    iat: now,
    exp: now + EXCHANGE_TTL,
    jti: crypto.randomUUID(),
  };
  if (params.scope) payload.scope = params.scope;
  ctx.body = {
    access_token: signJwt(payload),
    issued_token_type: ACCESS_TOKEN_TYPE,
    token_type: 'Bearer',
    expires_in: EXCHANGE_TTL,
  };
}, ['subject_token', 'subject_token_type', 'audience', 'resource', 'scope', 'requested_token_type', 'actor_token', 'actor_token_type']);

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>`
    + `<body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

// ---- test routes and request rewriting (runs before the provider's own routes) ---------------

const stats = { token: {}, device_authorization: {} };
const slowDownCount = new Map(); // device_code -> slow_down answers sent

function bump(kind, clientId) {
  const key = clientId ?? '';
  stats[kind][key] = (stats[kind][key] ?? 0) + 1;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > 56 * 1024) {
        reject(new Error('request entity too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// The client id and authentication method of a token-endpoint style request.
function clientOf(ctx, form) {
  const header = ctx.get('authorization');
  if (header && /^basic /i.test(header)) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    let id = i === -1 ? decoded : decoded.slice(0, i);
    try {
      id = decodeURIComponent(id.replace(/\+/g, '%20'));
    } catch {
      // keep the raw value; the provider rejects the header itself
    }
    return { clientId: id, method: 'client_secret_basic' };
  }
  if (form.has('client_secret')) {
    return { clientId: form.get('client_id') ?? undefined, method: 'client_secret_post' };
  }
  return { clientId: form.get('client_id') ?? undefined, method: 'none' };
}

const TOKEN_PATH = '/token';
const DEVICE_AUTH_PATH = '/device/auth';

provider.use(async (ctx, next) => {
  // Extra test routes.
  if (ctx.path === '/test/stats' && ctx.method === 'GET') {
    ctx.set('cache-control', 'no-store');
    ctx.body = stats;
    return;
  }
  if (ctx.path === '/test/client-keys' && ctx.method === 'GET') {
    ctx.set('cache-control', 'no-store');
    ctx.body = {
      'pkjwt-rs256': privatePem(rsaClientKey),
      'pkjwt-es256': privatePem(ecClientKey),
      'cluster-issuer': privatePem(clusterKey),
    };
    return;
  }
  if (ctx.path === '/test/stats/reset' && ctx.method === 'POST') {
    stats.token = {};
    stats.device_authorization = {};
    ctx.status = 204;
    return;
  }
  if (ctx.path === '/config/v1/flyte_client' && ctx.method === 'GET') {
    ctx.body = {
      client_id: FLYTE_CLIENT_ID,
      redirect_uri: 'http://localhost:53593/callback',
      scopes: ['openid', 'offline_access'],
      authorization_metadata_key: 'flyte-authorization',
      service_http_endpoint: '',
      audience: '',
    };
    return;
  }
  if (ctx.path === '/.well-known/oauth-authorization-server' && ctx.method === 'GET') {
    ctx.path = '/.well-known/openid-configuration';
    await next();
    return;
  }

  // Headless login and consent.
  const interaction = /^\/interaction\/([^/]+)\/?$/.exec(ctx.path);
  if (interaction && ctx.method === 'GET') {
    await finishInteraction(ctx);
    return;
  }

  // Auth0-style `audience` at the authorization endpoint.
  if (ctx.path === '/auth' && ctx.method === 'GET') {
    const query = new URLSearchParams(ctx.querystring);
    if (query.has('audience') && !query.has('resource')) {
      query.set('resource', query.get('audience'));
      ctx.querystring = query.toString();
    }
    await next();
    return;
  }

  const isToken = ctx.path === TOKEN_PATH && ctx.method === 'POST';
  const isDeviceAuth = ctx.path === DEVICE_AUTH_PATH && ctx.method === 'POST';
  if (!isToken && !isDeviceAuth) {
    await next();
    return;
  }

  // Token and device authorization requests: read the form here (the provider then parses the
  // string we leave on ctx.request.body), count, check the client authentication method, and map
  // `audience` onto `resource`.
  let raw = '';
  if (ctx.is('application/x-www-form-urlencoded')) {
    try {
      raw = await readBody(ctx.req);
    } catch (err) {
      ctx.status = 400;
      ctx.body = { error: 'invalid_request', error_description: err.message };
      return;
    }
  }
  const form = new URLSearchParams(raw);
  const { clientId, method } = clientOf(ctx, form);
  bump(isToken ? 'token' : 'device_authorization', clientId);

  const registered = clientId === undefined ? undefined : AUTH_METHOD.get(clientId);
  if (
    (registered === 'client_secret_basic' || registered === 'client_secret_post')
    && method !== 'none'
    && method !== registered
  ) {
    ctx.status = 401;
    ctx.set('cache-control', 'no-store');
    if (method === 'client_secret_basic') {
      ctx.set('www-authenticate', `Basic realm="${ISSUER}", error="invalid_client"`);
    }
    ctx.body = {
      error: 'invalid_client',
      error_description: `client authentication failed: ${clientId} is registered for ${registered}, not ${method}`,
    };
    return;
  }

  // Token exchange keeps its own `audience` parameter (RFC 8693 §2.1).
  if (form.get('grant_type') !== TOKEN_EXCHANGE) {
    if (form.has('audience') && !form.has('resource')) {
      form.set('resource', form.get('audience'));
    }
    form.delete('audience');
  }
  if (ctx.is('application/x-www-form-urlencoded')) {
    ctx.request.body = form.toString();
  }

  await next();

  if (isDeviceAuth && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') {
    ctx.body = { ...ctx.body, interval: DEVICE_INTERVAL };
    return;
  }

  if (
    isToken
    && clientId === 'device-slow'
    && form.get('grant_type') === DEVICE_GRANT
    && ctx.status === 400
    && ctx.body?.error === 'authorization_pending'
  ) {
    const deviceCode = form.get('device_code') ?? '';
    const sent = slowDownCount.get(deviceCode) ?? 0;
    if (sent < SLOW_DOWN_POLLS) {
      slowDownCount.set(deviceCode, sent + 1);
      ctx.body = {
        error: 'slow_down',
        error_description: 'you are polling too quickly and should back off at a reasonable rate',
      };
    }
  }
});

async function finishInteraction(ctx) {
  let details;
  try {
    details = await provider.interactionDetails(ctx.req, ctx.res);
  } catch (err) {
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = page('Error', `<pre id="error">${escapeHtml(err.message)}</pre>`);
    return;
  }
  const { prompt, params, session, grantId } = details;
  let result;
  if (prompt.name === 'login') {
    result = { login: { accountId: USER } };
  } else {
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details ?? {};
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    if (missing.missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
    }
    result = { consent: { grantId: await grant.save() } };
  }
  const location = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
  ctx.status = 303;
  ctx.redirect(location);
}

provider.on('server_error', (_ctx, err) => console.error('server_error:', err));

server.on('request', provider.callback());

// ---- lifecycle --------------------------------------------------------------------------------

let stopping = false;
function stop(signal) {
  if (stopping) return;
  stopping = true;
  console.error(`test idp: ${signal}, stopping`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
if (process.env.IDP_EXIT_ON_STDIN_EOF === '1') {
  process.stdin.on('end', () => stop('stdin closed'));
  process.stdin.on('error', () => stop('stdin error'));
  process.stdin.resume();
}

process.stdout.write(`${ISSUER}\n`);
