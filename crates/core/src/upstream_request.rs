//! Building the exact request Bloomreach receives (docs/behaviour.md, "The upstream call").

use crate::account::Target;
use crate::base_url::BaseUrl;
use crate::credentials::Credentials;
use crate::ids::{ApiKind, ImportId, PathOverride};
use crate::json::{Map, Value};
use crate::json_object;
use crate::secret::Secret;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything except `A-Z a-z 0-9 - . _ ~` is encoded in a path segment. Validated ids
/// hold none of it today; encoding anyway keeps the URL right if the rules widen.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What a caller asks for: which import, through which API and account, with which
/// fields.
#[derive(Clone, Debug, PartialEq)]
pub struct StartRequest {
    pub target: Target,
    pub import_id: ImportId,
    pub path: Option<PathOverride>,
    pub test_connection: Option<bool>,
}

/// The HTTP request to send upstream. The authorization value is a [`Secret`].
#[derive(Clone, Debug, PartialEq)]
pub struct UpstreamRequest {
    pub method: &'static str,
    pub url: String,
    pub authorization: Secret,
    /// The JSON body, present exactly when a field was given.
    pub body: Option<String>,
}

fn segment(value: &str) -> String {
    utf8_percent_encode(value, SEGMENT).to_string()
}

impl StartRequest {
    /// The API it goes through.
    pub fn api(&self) -> ApiKind {
        self.target.api()
    }

    /// The URL of the start (data-v1, data-hub) or run (imports-v1) route under `base`.
    pub fn url(&self, base: &BaseUrl) -> String {
        let id = segment(self.import_id.as_str());
        let base = base.as_str();
        match &self.target {
            Target::DataV1(project) => format!(
                "{base}/data/v1/projects/{}/imports/{id}/start",
                segment(project.as_str())
            ),
            Target::ImportsV1(project) => {
                format!("{base}/imports/v1/{}/{id}/run", segment(project.as_str()))
            }
            Target::DataHub(workspace) => format!(
                "{base}/data/v2/workspaces/{}/imports/{id}/start",
                segment(workspace.as_str())
            ),
        }
    }

    /// The body's exact bytes, or `None` when no field is given.
    pub fn body(&self) -> Option<String> {
        if self.path.is_none() && self.test_connection.is_none() {
            return None;
        }
        // The path's field is named by the API; keys are written sorted, which is the
        // order Bloomreach's documentation gives them in.
        let mut body = Map::new();
        if let Some(path) = &self.path {
            let field = match self.api() {
                ApiKind::DataV1 | ApiKind::DataHub => "path",
                ApiKind::ImportsV1 => "path_to_overwrite",
            };
            body.insert(field.to_owned(), Value::from(path.as_str()));
        }
        if let Some(test_connection) = self.test_connection {
            body.insert("test_connection".to_owned(), Value::from(test_connection));
        }
        Some(Value::Object(body).to_json())
    }

    /// The full upstream request.
    pub fn build(&self, base: &BaseUrl, credentials: &Credentials) -> UpstreamRequest {
        UpstreamRequest {
            method: "POST",
            url: self.url(base),
            authorization: credentials.basic_authorization(),
            body: self.body(),
        }
    }
}

impl UpstreamRequest {
    /// The headers to send, in order: authorization, then content-type only with a body.
    pub fn headers(&self) -> Vec<(&'static str, &str)> {
        let mut headers = vec![("authorization", self.authorization.expose())];
        if self.body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        headers
    }

    /// The request as JSON with the authorization redacted, for dry runs and logs.
    pub fn redacted(&self) -> crate::json::Value {
        self.to_json(false)
    }

    /// The request as JSON, credentials included, for the npm package to send.
    pub fn sendable(&self) -> crate::json::Value {
        self.to_json(true)
    }

    /// `{method, url, headers, body}`, the headers exactly as [`Self::headers`] gives
    /// them, with the authorization shown or as `Basic ***`.
    fn to_json(&self, show_authorization: bool) -> crate::json::Value {
        // Inserted one by one: collecting into the map would sort, and link a sort.
        let mut headers = crate::json::Map::new();
        for (name, value) in self.headers() {
            let value = match name {
                "authorization" if !show_authorization => "Basic ***",
                _ => value,
            };
            headers.insert(name.to_owned(), value.into());
        }
        json_object([
            ("method", Value::from(self.method)),
            ("url", Value::from(self.url.as_str())),
            ("headers", Value::from(headers)),
            ("body", Value::from(self.body.as_deref())),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ProjectToken, WorkspaceId};

    fn request(api: ApiKind, path: Option<&str>, test_connection: Option<bool>) -> StartRequest {
        let account = crate::account::Account {
            project: Some(ProjectToken::parse("2d0be12a-4b0c-12ec-87da-86c198934217").unwrap()),
            workspace: Some(WorkspaceId::parse("ws-7c1f_2").unwrap()),
            base: None,
        };
        StartRequest {
            target: account
                .target(Some(api), crate::account::SETTING_NAMES)
                .unwrap(),
            import_id: ImportId::parse("5f1e8c9a0b2d").unwrap(),
            path: path.map(|p| PathOverride::parse(p).unwrap()),
            test_connection,
        }
    }

    fn creds() -> Credentials {
        Credentials::new("k", "key-id", "s", "key-secret").unwrap()
    }

    #[test]
    fn data_v1_url_is_start_route_under_the_base() {
        let r = request(ApiKind::DataV1, None, None);
        assert_eq!(
            r.url(&BaseUrl::default()),
            "https://api.exponea.com/data/v1/projects/2d0be12a-4b0c-12ec-87da-86c198934217/imports/5f1e8c9a0b2d/start"
        );
        let base = BaseUrl::parse("http://127.0.0.1:9/pre/fix/").unwrap();
        assert_eq!(
            r.url(&base),
            "http://127.0.0.1:9/pre/fix/data/v1/projects/2d0be12a-4b0c-12ec-87da-86c198934217/imports/5f1e8c9a0b2d/start"
        );
    }

    #[test]
    fn imports_v1_url_is_run_route() {
        let r = request(ApiKind::ImportsV1, None, None);
        assert_eq!(
            r.url(&BaseUrl::default()),
            "https://api.exponea.com/imports/v1/2d0be12a-4b0c-12ec-87da-86c198934217/5f1e8c9a0b2d/run"
        );
    }

    #[test]
    fn data_hub_url_is_the_workspace_start_route_with_data_v1_bodies() {
        let r = request(ApiKind::DataHub, Some("s3://b/x.csv"), Some(false));
        assert_eq!(
            r.url(&BaseUrl::parse("https://api.bloomreach.com").unwrap()),
            "https://api.bloomreach.com/data/v2/workspaces/ws-7c1f_2/imports/5f1e8c9a0b2d/start"
        );
        let up = r.build(&BaseUrl::default(), &creds());
        assert_eq!(
            up.body.as_deref(),
            Some(r#"{"path":"s3://b/x.csv","test_connection":false}"#)
        );
        assert!(up.headers().contains(&("content-type", "application/json")));
        let bare = request(ApiKind::DataHub, None, None).build(&BaseUrl::default(), &creds());
        assert_eq!((bare.headers().len(), bare.body), (1, None));
    }

    #[test]
    fn no_fields_means_no_body_and_no_content_type() {
        let up = request(ApiKind::DataV1, None, None).build(&BaseUrl::default(), &creds());
        assert_eq!(up.body, None);
        assert_eq!(up.headers().len(), 1);
        assert_eq!(up.headers()[0].0, "authorization");
        assert_eq!(up.method, "POST");
    }

    #[test]
    fn body_holds_only_given_fields_with_json_content_type() {
        let up = request(ApiKind::DataV1, Some("https://f.example.com/a.csv"), None)
            .build(&BaseUrl::default(), &creds());
        assert_eq!(
            up.body.as_deref(),
            Some(r#"{"path":"https://f.example.com/a.csv"}"#)
        );
        assert!(up.headers().contains(&("content-type", "application/json")));
        let up = request(ApiKind::DataV1, None, Some(false)).build(&BaseUrl::default(), &creds());
        assert_eq!(up.body.as_deref(), Some(r#"{"test_connection":false}"#));
        let up = request(ApiKind::DataV1, Some("/sftp/\"q\".csv"), Some(true))
            .build(&BaseUrl::default(), &creds());
        assert_eq!(
            up.body.as_deref(),
            Some(r#"{"path":"/sftp/\"q\".csv","test_connection":true}"#)
        );
    }

    #[test]
    fn imports_v1_override_field_is_path_to_overwrite() {
        let up = request(ApiKind::ImportsV1, Some("gs://b/x.csv"), Some(false))
            .build(&BaseUrl::default(), &creds());
        assert_eq!(
            up.body.as_deref(),
            Some(r#"{"path_to_overwrite":"gs://b/x.csv","test_connection":false}"#)
        );
    }

    #[test]
    fn redacted_view_hides_the_authorization() {
        let up = request(ApiKind::DataV1, None, Some(true)).build(&BaseUrl::default(), &creds());
        let shown = up.redacted().to_string();
        assert!(shown.contains(r#""authorization":"Basic ***""#));
        assert!(!shown.contains(&up.authorization.expose()[6..]));
        assert!(shown.contains(r#""content-type":"application/json""#));
        assert!(!format!("{up:?}").contains("a2V5"));
    }
}
