//! The names of the environment variables this crate reads.
//!
//! They are flytekit's (`FLYTE_{SECTION}_{OPTION}`), so one environment configures pyflyte and
//! `flyte-auth` alike. A variable set to the empty string counts as not set.

/// The admin endpoint (`admin.endpoint`); a `dns:///` prefix is stripped.
pub const PLATFORM_URL: &str = "FLYTE_PLATFORM_URL";
/// Plain http to the admin endpoint (`admin.insecure`).
pub const PLATFORM_INSECURE: &str = "FLYTE_PLATFORM_INSECURE";
/// Skip TLS certificate verification (`admin.insecureSkipVerify`).
pub const PLATFORM_INSECURE_SKIP_VERIFY: &str = "FLYTE_PLATFORM_INSECURE_SKIP_VERIFY";
/// An extra CA bundle in PEM (`admin.caCertFilePath`).
pub const PLATFORM_CA_CERT_FILE_PATH: &str = "FLYTE_PLATFORM_CA_CERT_FILE_PATH";
/// A proxy for the OAuth HTTP calls (`admin.httpProxyURL`).
pub const PLATFORM_HTTP_PROXY_URL: &str = "FLYTE_PLATFORM_HTTP_PROXY_URL";
/// The auth mode (`admin.authType`).
pub const CREDENTIALS_AUTH_MODE: &str = "FLYTE_CREDENTIALS_AUTH_MODE";
/// The client id (`admin.clientId`).
pub const CREDENTIALS_CLIENT_ID: &str = "FLYTE_CREDENTIALS_CLIENT_ID";
/// The client secret itself. Replaced by a secret from `clientSecretLocation` or
/// `clientSecretEnvVar` when either is set.
pub const CREDENTIALS_CLIENT_SECRET: &str = "FLYTE_CREDENTIALS_CLIENT_SECRET";
/// A file holding the client secret (`admin.clientSecretLocation`).
pub const CREDENTIALS_CLIENT_SECRET_LOCATION: &str = "FLYTE_CREDENTIALS_CLIENT_SECRET_LOCATION";
/// The name of a variable holding the client secret (`admin.clientSecretEnvVar`).
pub const CREDENTIALS_CLIENT_SECRET_ENV_VAR: &str = "FLYTE_CREDENTIALS_CLIENT_SECRET_ENV_VAR";
/// Scopes, separated by commas or spaces (`admin.scopes`).
pub const CREDENTIALS_SCOPES: &str = "FLYTE_CREDENTIALS_SCOPES";
/// The audience parameter (`admin.audience`).
pub const CREDENTIALS_AUDIENCE: &str = "FLYTE_CREDENTIALS_AUDIENCE";
/// How the client secret is sent: `client_secret_basic` or `client_secret_post`
/// (`admin.clientAuthMethod`, not a flytekit key).
pub const CREDENTIALS_CLIENT_AUTH_METHOD: &str = "FLYTE_CREDENTIALS_CLIENT_AUTH_METHOD";
/// A plain OAuth 2.0 / OpenID Connect issuer to discover the endpoints from, instead of the
/// Flyte endpoint (`admin.issuer`, not a flytekit key).
pub const CREDENTIALS_ISSUER: &str = "FLYTE_CREDENTIALS_ISSUER";
/// The external command's argv, comma-separated (`admin.command`).
pub const CREDENTIALS_COMMAND: &str = "FLYTE_CREDENTIALS_COMMAND";
/// The proxy-authorization command's argv, comma-separated (`admin.proxyCommand`).
pub const CREDENTIALS_PROXY_COMMAND: &str = "FLYTE_CREDENTIALS_PROXY_COMMAND";
/// No keyring at all (`admin.disableKeyring`), as Flyte 2's SDK reads it.
pub const ADMIN_DISABLE_KEYRING: &str = "FLYTE_ADMIN_DISABLEKEYRING";
/// Which keyring layouts to write (`admin.keyringLayout`): `auto`, `flytekit`, `flyte2`, `both`.
pub const ADMIN_KEYRING_LAYOUT: &str = "FLYTE_ADMIN_KEYRINGLAYOUT";
/// How the Flyte endpoint's client configuration is discovered (`admin.discovery`, not a
/// flytekit key): `auto` (default), `http` (the gateway's GET paths), `grpc`
/// (`flyteidl.service.AuthMetadataService`), `grpc2` or `connect` (Flyte 2's
/// `flyteidl2.auth.AuthMetadataService`).
pub const ADMIN_DISCOVERY: &str = "FLYTE_ADMIN_DISCOVERY";
/// A PEM private key for `private_key_jwt` client assertions (`admin.clientAssertionKeyFile`,
/// not a flytekit key); selects `ClientSecret` mode (client credentials) instead of a secret.
pub const CREDENTIALS_CLIENT_ASSERTION_KEY_FILE: &str =
    "FLYTE_CREDENTIALS_CLIENT_ASSERTION_KEY_FILE";
/// `RS256` (default) or `ES256` (`admin.clientAssertionAlgorithm`).
pub const CREDENTIALS_CLIENT_ASSERTION_ALGORITHM: &str =
    "FLYTE_CREDENTIALS_CLIENT_ASSERTION_ALGORITHM";
/// The `kid` of the assertion key (`admin.clientAssertionKeyId`).
pub const CREDENTIALS_CLIENT_ASSERTION_KEY_ID: &str = "FLYTE_CREDENTIALS_CLIENT_ASSERTION_KEY_ID";
/// A federated token file (a projected service-account token) sent as the client assertion
/// (`admin.federatedTokenFile`); selects `ClientSecret` mode. Beats the key file.
pub const CREDENTIALS_FEDERATED_TOKEN_FILE: &str = "FLYTE_CREDENTIALS_FEDERATED_TOKEN_FILE";
/// The config file to read instead of `~/.flyte/config.yaml`.
pub const FLYTECTL_CONFIG: &str = "FLYTECTL_CONFIG";
/// A Flyte 2 API key (`flyte.init_from_api_key`): base64 of
/// `endpoint:client_id:client_secret:org`. See [`ApiKey`](crate::ApiKey).
pub const API_KEY: &str = "FLYTE_API_KEY";
/// The API key the Union control plane injects into task pods; read before
/// [`EAGER_API_KEY`].
pub const UNION_EAGER_API_KEY: &str = "_UNION_EAGER_API_KEY";
/// The API key Flyte injects into task pods (eager mode).
pub const EAGER_API_KEY: &str = "EAGER_API_KEY";
