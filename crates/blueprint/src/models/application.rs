//! `authentik_core.application` / `gatehouse.application`. The provider is a
//! reference to a provider entry (`provider: !KeyOf my-provider`); Gatehouse
//! stores the provider inside the application.

use gatehouse_core::Application;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Attrs, Cx, Model, find_by_key, pk, pk_uuid};
use crate::error::At;
use crate::state::{AppRec, State};

pub struct ApplicationModel;

fn index(st: &State, pk: &Value, a: &Attrs<'_>) -> Result<usize, At> {
    pk_uuid(pk)
        .and_then(|id| st.app_id(id))
        .ok_or_else(|| a.err("slug", "the application no longer exists"))
}

fn set_fields(cx: &mut Cx<'_>, i: usize, a: &Attrs<'_>) -> Result<(), At> {
    if let Some(slug) = a.str("slug")?
        && slug != cx.st.apps[i].app.slug
    {
        if cx.st.app(&slug).is_some() {
            return Err(a.err("slug", format!("application '{slug}' already exists")));
        }
        cx.st.reslug_app(i, &slug);
    }
    if let Some(v) = a.str("name")? {
        cx.st.apps[i].app.name = v;
    }
    if a.has("meta_launch_url") {
        cx.st.apps[i].app.launch_url = a.str("meta_launch_url")?.filter(|s| !s.is_empty());
    }
    if let Some(mode) = a.str("policy_engine_mode")?
        && mode != "any"
    {
        return Err(a
            .err(
                "policy_engine_mode",
                format!("policy_engine_mode '{mode}' is not supported"),
            )
            .hint("Gatehouse grants access when ANY bound group matches (`any`)"));
    }
    if a.has("provider") {
        let provider = a.uuid("provider")?;
        if let Some(p) = provider {
            if cx.st.provider(p).is_none() {
                return Err(a
                    .err("provider", "provider: the referenced provider does not exist")
                    .hint("reference an oauth2provider, proxyprovider or samlprovider entry with !KeyOf"));
            }
            if let Some(other) = cx.st.app_of_provider(p)
                && other != i
            {
                return Err(a.err(
                    "provider",
                    format!(
                        "the provider is already used by application '{}'",
                        cx.st.apps[other].app.slug
                    ),
                ));
            }
        }
        cx.st.apps[i].provider = provider;
        cx.st.apps[i].foreign_provider = false;
    }
    Ok(())
}

impl Model for ApplicationModel {
    fn name(&self) -> &'static str {
        "authentik_core.application"
    }
    fn gatehouse_name(&self) -> &'static str {
        "gatehouse.application"
    }
    fn fields(&self) -> &'static [&'static str] {
        &["slug", "name", "provider", "meta_launch_url", "policy_engine_mode"]
    }
    fn unsupported(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("meta_description", "the portal shows name and launch URL only"),
            ("meta_publisher", "the portal shows name and launch URL only"),
            ("meta_icon", "the portal shows name and launch URL only"),
            ("open_in_new_tab", "the portal shows name and launch URL only"),
            ("group", "the portal does not group applications"),
            ("backchannel_providers", "Gatehouse has no backchannel providers"),
        ]
    }

    fn find(&self, st: &State, q: &Attrs<'_>) -> Result<Option<Value>, At> {
        let id = |i: usize| st.apps[i].app.id;
        find_by_key(
            q,
            "slug",
            "an application",
            |a| st.app_id(a).map(id),
            |s| st.app(s).map(id),
        )
    }

    fn create(&self, cx: &mut Cx<'_>, a: &Attrs<'_>) -> Result<Value, At> {
        let slug = a.required("slug", "a new application")?;
        let name = a.str("name")?.unwrap_or_else(|| slug.clone());
        let app = Application {
            id: Uuid::new_v4(),
            slug,
            name,
            launch_url: None,
            provider: None,
            provider_config: json!({}),
            provider_key: None,
            provider_pk: None,
            provider_name: None,
            created_at: cx.now,
        };
        let id = app.id;
        let i = cx.st.add_app(AppRec {
            app,
            provider: None,
            live: true,
            foreign_provider: false,
        });
        set_fields(cx, i, a)?;
        Ok(pk(id))
    }

    fn update(&self, cx: &mut Cx<'_>, pk: &Value, a: &Attrs<'_>) -> Result<(), At> {
        let i = index(cx.st, pk, a)?;
        set_fields(cx, i, a)
    }

    fn delete(&self, cx: &mut Cx<'_>, pk: &Value, a: &Attrs<'_>) -> Result<(), At> {
        let i = index(cx.st, pk, a)?;
        cx.st.delete_app(i);
        Ok(())
    }
}
