//! Conformance checks of providers as objects of their own: made unattached,
//! picked up by an application, detached, deleted, keys kept unique across
//! both places, pks never reused (part of the `conformance` test binary).

use gatehouse_core::ProviderSpec;
use gatehouse_core::apps::AppChange;

use super::*;

fn spec(key: &str) -> ProviderSpec {
    ProviderSpec {
        kind: ProviderKind::Oidc,
        key: Some(key.into()),
        config: json!({"client_id": key}),
        shown: json!({"client_id": key}),
    }
}

pub(crate) async fn check_provider_objects(db: &TestDb) {
    let env = env(db).await;
    let providers = env.dir.providers();
    let a = providers
        .create(&env.audit, "Grafana OIDC", spec("grafana"))
        .await
        .unwrap();
    let b = providers.create(&env.audit, "Wiki OIDC", spec("wiki")).await.unwrap();
    assert!(b.pk > a.pk && a.application.is_none());
    // A key is unique among unattached providers and applications alike.
    let dup = providers.create(&env.audit, "Again", spec("grafana")).await;
    assert!(matches!(dup, Err(Error::AlreadyExists { .. })), "{dup:?}");

    // An application picks provider a up: it leaves the unattached table, keeps its pk.
    let app = env
        .dir
        .apps()
        .create_using(&env.audit, "grafana", "Grafana", None, Some(a.pk))
        .await
        .unwrap();
    assert_eq!(app.provider_pk, Some(a.pk));
    assert_eq!(app.provider_key.as_deref(), Some("grafana"));
    assert_eq!(app.provider_display_name(), "Grafana OIDC");
    let by_key = env
        .dir
        .apps()
        .by_provider_key(ProviderKind::Oidc, "grafana")
        .await
        .unwrap();
    assert_eq!(by_key.map(|a| a.slug), Some("grafana".into()));
    let listed = providers.list(ProviderKind::Oidc).await.unwrap();
    assert_eq!(listed.iter().map(|p| p.pk).collect::<Vec<_>>(), vec![a.pk, b.pk]);
    assert_eq!(listed[0].application.as_ref().map(|x| x.slug.as_str()), Some("grafana"));
    assert!(
        env.store
            .unattached_providers()
            .await
            .unwrap()
            .iter()
            .all(|p| p.pk != a.pk)
    );
    // One provider, one application.
    let twice = env
        .dir
        .apps()
        .create_using(&env.audit, "grafana2", "Grafana 2", None, Some(a.pk))
        .await;
    assert!(
        matches!(twice, Err(Error::Invalid { field: "provider", .. })),
        "{twice:?}"
    );
    assert!(env.dir.apps().by_slug("grafana2").await.unwrap().is_none());

    // Updating an attached provider changes the application's settings.
    let changed = providers
        .update(&env.audit, a.pk, Some("Grafana SSO"), spec("grafana-new"))
        .await
        .unwrap();
    assert_eq!(changed.application.as_ref().unwrap().slug, "grafana");
    let app = env.dir.apps().by_slug("grafana").await.unwrap().unwrap();
    assert_eq!(app.provider_key.as_deref(), Some("grafana-new"));
    assert_eq!(app.provider_name.as_deref(), Some("Grafana SSO"));

    // Switching to provider b detaches a (kept, unattached, same pk and settings).
    let change = AppChange {
        attach: Some(Some(b.pk)),
        ..AppChange::default()
    };
    let app = env.dir.apps().update(&env.audit, "grafana", &change).await.unwrap();
    assert_eq!(
        (app.provider_pk, app.provider_key.as_deref()),
        (Some(b.pk), Some("wiki"))
    );
    let loose = env.store.unattached_providers().await.unwrap();
    assert_eq!(loose.len(), 1);
    assert_eq!((loose[0].pk, loose[0].key.as_deref()), (a.pk, Some("grafana-new")));
    assert_eq!(loose[0].name, "Grafana SSO");

    // Deleting the application keeps its provider; deleting a provider detaches it.
    env.dir
        .apps()
        .delete_keeping_provider(&env.audit, "grafana")
        .await
        .unwrap();
    assert_eq!(env.store.unattached_providers().await.unwrap().len(), 2);
    let app = env
        .dir
        .apps()
        .create_using(&env.audit, "wiki", "Wiki", None, Some(b.pk))
        .await
        .unwrap();
    providers.delete(&env.audit, ProviderKind::Oidc, b.pk).await.unwrap();
    let app = env.dir.apps().by_slug(&app.slug).await.unwrap().unwrap();
    assert_eq!((app.provider, app.provider_pk), (None, None));
    assert!(matches!(
        providers.get(ProviderKind::Oidc, b.pk).await,
        Err(Error::NotFound { .. })
    ));
    // The wrong kind names no provider.
    assert!(providers.delete(&env.audit, ProviderKind::Saml, a.pk).await.is_err());
    providers.delete(&env.audit, ProviderKind::Oidc, a.pk).await.unwrap();
    assert!(env.store.unattached_providers().await.unwrap().is_empty());

    // A provider made with its application (CLI, blueprint) gets the next pk: never one given before.
    let app = env
        .dir
        .apps()
        .create_with(&env.audit, "notes", "Notes", None, Some(spec("notes")))
        .await
        .unwrap();
    assert!(app.provider_pk.unwrap() > b.pk);
    let models: Vec<String> = env
        .events()
        .await
        .iter()
        .filter_map(|e| e.context.get("model").and_then(|m| m.as_str()).map(str::to_string))
        .filter(|m| m == "provider")
        .collect();
    assert_eq!(models.len(), 5, "two made, one changed, two deleted: {models:?}");
}
