//! What every command needs: settings, an open store and the directory services.

use std::sync::Arc;

use gatehouse_core::{Audit, Directory, SystemClock};
use gatehouse_crypto::PasswordHasher;
use gatehouse_store::SqlStore;

use crate::config::Settings;
use crate::failure::{CmdResult, Failure};

pub struct Context {
    pub settings: Settings,
    pub json: bool,
}

impl Context {
    /// Creates the data directory when the database lives there (SQLite default).
    pub fn ensure_data_dir(&self) -> CmdResult {
        if self.settings.database_url.starts_with("sqlite:") {
            create_private_dir(&self.settings.data_dir)?;
        }
        Ok(())
    }

    pub async fn connect(&self) -> CmdResult<SqlStore> {
        self.ensure_data_dir()?;
        let options = gatehouse_store::ConnectOptions {
            max_connections: self.settings.max_connections,
            ..Default::default()
        };
        Ok(SqlStore::connect(&self.settings.database_url, options).await?)
    }

    /// Opens the database, applying pending migrations (the CLI may be the
    /// first thing to touch a new database).
    pub async fn directory(&self) -> CmdResult<Directory> {
        let store = self.connect().await?;
        store.migrate().await?;
        self.directory_on(store)
    }

    pub fn directory_on(&self, store: SqlStore) -> CmdResult<Directory> {
        let hasher = PasswordHasher::with_default_concurrency(self.settings.hash_params)
            .map_err(|e| Failure::input(format!("configuration: password hashing: {e}")))?;
        // Test only: a clock the black-box tests move (GATEHOUSE_TEST_CLOCK_FILE).
        let clock: Arc<dyn gatehouse_core::Clock> = match &self.settings.test_clock_file {
            Some(path) => Arc::new(crate::test_clock::FileOffsetClock::new(path.clone())),
            None => Arc::new(SystemClock),
        };
        Ok(
            Directory::new(Arc::new(store), clock, hasher, self.settings.password_policy.clone())
                .with_auth_policies(self.settings.sessions.clone(), self.settings.throttle.clone())
                .with_enrolment_policy(gatehouse_core::mfa::enrolment::EnrolmentPolicy {
                    first: self.settings.security.first_enrolment,
                    window_secs: self.settings.security.enrolment_window_secs,
                    notify_owner: self.settings.mail_worker.email.is_some(),
                }),
        )
    }

    /// What the web layer needs from the settings.
    pub fn web_config(&self) -> CmdResult<gatehouse_web::WebConfig> {
        let s = &self.settings;
        let branding_logo = match &s.branding_logo {
            Some(path) => {
                let bytes = std::fs::read(path).map_err(|e| {
                    Failure::input(format!(
                        "configuration: GATEHOUSE_BRANDING_LOGO {}: {e}",
                        path.display()
                    ))
                })?;
                Some(gatehouse_web::config::Logo {
                    bytes: bytes.into(),
                    content_type: crate::config::logo_content_type(path).unwrap_or("application/octet-stream"),
                })
            }
            None => None,
        };
        Ok(gatehouse_web::WebConfig {
            external_url: s.external_url.clone(),
            branding_title: s.branding_title.clone(),
            branding_logo,
            trusted_proxies: gatehouse_web::client::TrustedProxies::parse(&s.trusted_proxies).map_err(|item| {
                Failure::input(format!("configuration: GATEHOUSE_TRUSTED_PROXIES: bad entry '{item}'"))
            })?,
            // mail and worker
            recovery_email_minutes: s.mail_worker.email.as_ref().map(|_| s.mail_worker.recovery_minutes),
            settings: crate::commands::settings::shown(s),
            blueprints: gatehouse_web::config::BlueprintPaths {
                dir: s.blueprints.dir.clone(),
                env_file: Some(s.env_file.clone()),
                stack_file: s.blueprints.stack_file.clone(),
                stack_env_file: s.blueprints.stack_env_file.clone(),
            },
            ldap_urls: crate::ldap_settings::client_urls(&s.external_url, &s.ldap),
        })
    }

    pub fn audit(&self) -> Audit {
        Audit::cli(crate::osuser::current())
    }
}

fn create_private_dir(dir: &std::path::Path) -> CmdResult {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Failure::runtime(format!("cannot create data directory {}: {e}", dir.display())))
}
