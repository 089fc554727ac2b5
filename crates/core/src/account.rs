//! Which Bloomreach account a start goes to: an Engagement project (the `data-v1` and
//! `imports-v1` APIs, by project token) or a Data hub workspace (`data-hub`, by
//! workspace id), and under which base URL (docs/behaviour.md, "Configuration").
//!
//! One deployment (or one npm call) normally has one of the two ids: a project key
//! and a workspace key are different key pairs. With both, both APIs use the one key
//! pair and the one base.

use crate::base_url::{BaseUrl, DATA_HUB_BASE, DEFAULT_BASE};
use crate::error::{ErrorCode, TriggerError};
use crate::ids::{ApiKind, ProjectToken, WorkspaceId};

/// The names of the two ids where the user wrote them: settings or npm options. A
/// missing id is reported under its name, as a configuration error (settings) or an
/// invalid request (options).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdNames {
    pub project: &'static str,
    pub workspace: &'static str,
    pub missing: ErrorCode,
}

/// The worker's settings.
pub const SETTING_NAMES: IdNames = IdNames {
    project: crate::setting_names::PROJECT_TOKEN,
    workspace: crate::setting_names::WORKSPACE_ID,
    missing: ErrorCode::Misconfigured,
};

/// The npm package's options.
pub const OPTION_NAMES: IdNames = IdNames {
    project: "projectToken",
    workspace: "workspaceId",
    missing: ErrorCode::InvalidRequest,
};

/// The ids and base configured for a deployment or an npm call.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Account {
    pub project: Option<ProjectToken>,
    pub workspace: Option<WorkspaceId>,
    /// `None`: each API's own default base.
    pub base: Option<BaseUrl>,
}

/// Where one start goes: the API with the id it needs. Built by
/// [`Account::target`], so an API never goes with the wrong kind of id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    DataV1(ProjectToken),
    ImportsV1(ProjectToken),
    DataHub(WorkspaceId),
}

impl Target {
    pub fn api(&self) -> ApiKind {
        match self {
            Target::DataV1(_) => ApiKind::DataV1,
            Target::ImportsV1(_) => ApiKind::ImportsV1,
            Target::DataHub(_) => ApiKind::DataHub,
        }
    }
}

impl Account {
    /// The API of a request or job that names none: `data-hub` when only a workspace
    /// id is set, else `data-v1`.
    pub fn default_api(&self) -> ApiKind {
        match (&self.project, &self.workspace) {
            (None, Some(_)) => ApiKind::DataHub,
            _ => ApiKind::DataV1,
        }
    }

    /// The target of a start through `api` (the default when `None`), or the error
    /// naming the id that API needs and this account lacks.
    pub fn target(&self, api: Option<ApiKind>, names: IdNames) -> Result<Target, TriggerError> {
        let api = api.unwrap_or_else(|| self.default_api());
        let missing = |name: &str| {
            TriggerError::new(
                names.missing,
                format!("{name}: is not set, and the {} API needs it", api.as_str()),
            )
        };
        match api {
            ApiKind::DataV1 | ApiKind::ImportsV1 => {
                let project = self.project.clone().ok_or_else(|| missing(names.project))?;
                Ok(if api == ApiKind::DataV1 {
                    Target::DataV1(project)
                } else {
                    Target::ImportsV1(project)
                })
            }
            ApiKind::DataHub => self
                .workspace
                .clone()
                .map(Target::DataHub)
                .ok_or_else(|| missing(names.workspace)),
        }
    }

    /// The base a start through `api` goes to: the configured one for every API, or
    /// that API's default.
    pub fn base_for(&self, api: ApiKind) -> BaseUrl {
        match (&self.base, api) {
            (Some(base), _) => base.clone(),
            (None, ApiKind::DataHub) => BaseUrl::known(DATA_HUB_BASE),
            (None, _) => BaseUrl::known(DEFAULT_BASE),
        }
    }

    /// The Bloomreach target the ledger's records are scoped to: the base, the project
    /// token and the workspace id as configured. The same key against another
    /// project is another record.
    pub fn ledger_scope(&self) -> String {
        format!(
            "{}\n{}\n{}",
            self.base.as_ref().map_or("", BaseUrl::as_str),
            self.project.as_ref().map_or("", ProjectToken::as_str),
            self.workspace.as_ref().map_or("", WorkspaceId::as_str),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(project: Option<&str>, workspace: Option<&str>) -> Account {
        Account {
            project: project.map(|p| ProjectToken::parse(p).unwrap()),
            workspace: workspace.map(|w| WorkspaceId::parse(w).unwrap()),
            base: None,
        }
    }

    #[test]
    fn the_default_api_is_data_hub_only_with_a_workspace_alone() {
        assert_eq!(account(None, Some("w")).default_api(), ApiKind::DataHub);
        assert_eq!(account(Some("p"), Some("w")).default_api(), ApiKind::DataV1);
        assert_eq!(account(Some("p"), None).default_api(), ApiKind::DataV1);
        assert_eq!(account(None, None).default_api(), ApiKind::DataV1);
    }

    #[test]
    fn each_api_gets_its_own_id_or_an_error_naming_it() {
        let both = account(Some("p"), Some("w"));
        assert_eq!(
            both.target(None, SETTING_NAMES),
            Ok(Target::DataV1(ProjectToken::parse("p").unwrap()))
        );
        assert_eq!(
            both.target(Some(ApiKind::DataHub), SETTING_NAMES),
            Ok(Target::DataHub(WorkspaceId::parse("w").unwrap()))
        );
        let workspace_only = account(None, Some("w"));
        let e = workspace_only
            .target(Some(ApiKind::DataV1), SETTING_NAMES)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Misconfigured);
        assert!(
            e.message.starts_with("BLOOMREACH_PROJECT_TOKEN:"),
            "{}",
            e.message
        );
        let e = account(Some("p"), None)
            .target(Some(ApiKind::DataHub), OPTION_NAMES)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(e.message.starts_with("workspaceId:"), "{}", e.message);
        for api in ApiKind::ALL {
            let target = both.target(Some(api), SETTING_NAMES).unwrap();
            assert_eq!(target.api(), api);
        }
    }

    #[test]
    fn each_api_has_its_default_base_unless_one_is_set() {
        let mut a = account(Some("p"), Some("w"));
        assert_eq!(
            a.base_for(ApiKind::DataV1).as_str(),
            "https://api.exponea.com"
        );
        assert_eq!(
            a.base_for(ApiKind::ImportsV1).as_str(),
            "https://api.exponea.com"
        );
        assert_eq!(
            a.base_for(ApiKind::DataHub).as_str(),
            "https://api.bloomreach.com"
        );
        a.base = Some(BaseUrl::parse("https://api.eu1.exponea.com").unwrap());
        for api in ApiKind::ALL {
            assert_eq!(a.base_for(api).as_str(), "https://api.eu1.exponea.com");
        }
    }

    #[test]
    fn the_ledger_scope_tells_targets_apart() {
        let scopes = [
            account(Some("p"), None).ledger_scope(),
            account(None, Some("p")).ledger_scope(),
            account(Some("p"), Some("w")).ledger_scope(),
            Account {
                base: Some(BaseUrl::parse("https://api.eu1.exponea.com").unwrap()),
                ..account(Some("p"), None)
            }
            .ledger_scope(),
        ];
        for (i, a) in scopes.iter().enumerate() {
            for b in &scopes[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
