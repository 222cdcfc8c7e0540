//! `config`: the repository's settings by dotted key (`config::edit`),
//! every edit checked as `Config::load` checks the file and written
//! atomically under the lock.

use super::{Repo, RepoError};
use crate::config::{Config, edit};

impl Repo {
    fn config_path(&self) -> std::path::PathBuf {
        self.dot.join("config.toml")
    }

    fn config_text(&self) -> Result<String, RepoError> {
        let path = self.config_path();
        match std::fs::read_to_string(&path) {
            Ok(t) => Ok(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(RepoError::io(&path)(e)),
        }
    }

    fn edited(&self, text: &str) -> Result<(), String> {
        Config::parse(self.config_path(), text)
            .map(|_| ())
            .map_err(|e| match e {
                crate::config::ConfigError::Invalid { detail, .. } => detail,
                other => other.to_string(),
            })
    }

    /// Every setting as (dotted key, TOML value), in file order.
    pub fn config_list(&self) -> Result<Vec<(String, String)>, RepoError> {
        edit::list(&self.config_text()?).map_err(|e| RepoError::ConfigEdit(e.to_string()))
    }

    /// One setting as TOML (`None`: not set, the default applies).
    pub fn config_get(&self, key: &str) -> Result<Option<String>, RepoError> {
        edit::get(&self.config_text()?, key).map_err(|e| RepoError::ConfigEdit(e.to_string()))
    }

    /// Sets one setting; an edit that would make the config invalid is
    /// refused and the file left as it was.
    pub fn config_set(
        &self,
        _lock: &crate::lock::RepoLock,
        key: &str,
        value: &str,
    ) -> Result<(), RepoError> {
        let text = self.config_text()?;
        let out = edit::set(&text, key, value, &|t| self.edited(t))
            .map_err(|e| RepoError::ConfigEdit(e.to_string()))?;
        crate::fsutil::write_atomic(&self.config_path(), out.as_bytes())
            .map_err(RepoError::io(&self.config_path()))
    }

    /// Removes one setting (its default applies again); false when it was
    /// not set.
    pub fn config_unset(
        &self,
        _lock: &crate::lock::RepoLock,
        key: &str,
    ) -> Result<bool, RepoError> {
        let text = self.config_text()?;
        match edit::unset(&text, key, &|t| self.edited(t))
            .map_err(|e| RepoError::ConfigEdit(e.to_string()))?
        {
            Some(out) => {
                crate::fsutil::write_atomic(&self.config_path(), out.as_bytes())
                    .map_err(RepoError::io(&self.config_path()))?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}
