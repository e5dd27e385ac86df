//! OpenID Provider metadata (OIDC Discovery §3, RFC 8414) for one application.

use serde_json::{Value, json};

use crate::client::Client;
use crate::paths;
use crate::scope;

pub fn document(external_url: &str, client: &Client) -> Value {
    let base = external_url.trim_end_matches('/');
    let issuer = client.issuer(external_url);
    let mut pkce = vec!["S256"];
    if client.config.allow_plain_pkce {
        pkce.push("plain");
    }
    let mut grants = vec!["authorization_code", "refresh_token", "client_credentials"];
    if client.config.device_flow {
        grants.push(crate::token::DEVICE_CODE_GRANT);
    }
    let mut doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}{}", paths::AUTHORIZE),
        "token_endpoint": format!("{base}{}", paths::TOKEN),
        "userinfo_endpoint": format!("{base}{}", paths::USERINFO),
        "end_session_endpoint": format!("{issuer}end-session/"),
        "introspection_endpoint": format!("{base}{}", paths::INTROSPECT),
        "revocation_endpoint": format!("{base}{}", paths::REVOKE),
        "jwks_uri": format!("{issuer}jwks/"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": grants,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [client.config.signing_alg.as_str()],
        "scopes_supported": scope::SUPPORTED,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": pkce,
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash", "sid", "azp",
            "email", "email_verified", "name", "given_name", "preferred_username", "nickname", "groups", "roles"
        ],
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": false,
        "frontchannel_logout_supported": false,
    });
    // RFC 8628 §4: only where the client may use it.
    if client.config.device_flow
        && let Some(m) = doc.as_object_mut()
    {
        m.insert(
            "device_authorization_endpoint".into(),
            Value::from(format!("{base}{}", paths::DEVICE)),
        );
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::tests::client;

    #[test]
    fn names_authentik_s_endpoints() {
        let d = document("https://id.example/", &client(false));
        assert_eq!(d["issuer"], "https://id.example/application/o/grafana/");
        assert_eq!(d["jwks_uri"], "https://id.example/application/o/grafana/jwks/");
        assert_eq!(d["token_endpoint"], "https://id.example/application/o/token/");
        assert_eq!(
            d["end_session_endpoint"],
            "https://id.example/application/o/grafana/end-session/"
        );
        assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
        assert!(
            d.get("device_authorization_endpoint").is_none(),
            "the device grant is opt-in"
        );
        let mut tv = client(true);
        tv.config.device_flow = true;
        let d = document("https://id.example/", &tv);
        assert_eq!(
            d["device_authorization_endpoint"],
            "https://id.example/application/o/device/"
        );
        assert!(
            d["grant_types_supported"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g == crate::token::DEVICE_CODE_GRANT)
        );
    }
}
