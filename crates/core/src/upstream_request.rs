//! Building the exact request Bloomreach receives (docs/behaviour.md, "The upstream call").

use crate::account::Target;
use crate::base_url::BaseUrl;
use crate::credentials::Credentials;
use crate::ids::{ApiKind, ImportId, PathOverride};
use crate::json_text::to_text;
use crate::secret::Secret;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Serialize, Serializer};

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

/// The upstream body: only the given fields, the path first, in the order Bloomreach's
/// documentation gives them.
#[derive(Serialize)]
struct UpstreamBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path_to_overwrite: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    test_connection: Option<bool>,
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
        // The path's field is named by the API.
        let path = self.path.as_ref().map(PathOverride::as_str);
        let (path, path_to_overwrite) = match self.api() {
            ApiKind::DataV1 | ApiKind::DataHub => (path, None),
            ApiKind::ImportsV1 => (None, path),
        };
        Some(to_text(&UpstreamBody {
            path,
            path_to_overwrite,
            test_connection: self.test_connection,
        }))
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
    pub fn redacted(&self) -> RequestView<'_> {
        RequestView {
            request: self,
            show_authorization: false,
        }
    }

    /// The request as JSON, credentials included, for the npm package to send.
    pub fn sendable(&self) -> RequestView<'_> {
        RequestView {
            request: self,
            show_authorization: true,
        }
    }
}

/// `{method, url, headers, body}` of a request, written as JSON by serde: the headers
/// exactly as [`UpstreamRequest::headers`] gives them, with the authorization shown or
/// as `Basic ***`.
#[derive(Clone, Copy, Debug)]
pub struct RequestView<'a> {
    request: &'a UpstreamRequest,
    show_authorization: bool,
}

impl RequestView<'_> {
    /// The compact JSON text.
    pub fn to_json(&self) -> String {
        to_text(self)
    }
}

impl Serialize for RequestView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct View<'v> {
            method: &'v str,
            url: &'v str,
            headers: Headers<'v>,
            body: Option<&'v str>,
        }
        struct Headers<'v>(Vec<(&'static str, &'v str)>);
        impl Serialize for Headers<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_map(self.0.iter().copied())
            }
        }
        let request = self.request;
        let headers = request
            .headers()
            .into_iter()
            .map(|(name, value)| match name {
                "authorization" if !self.show_authorization => (name, "Basic ***"),
                _ => (name, value),
            })
            .collect();
        View {
            method: request.method,
            url: &request.url,
            headers: Headers(headers),
            body: request.body.as_deref(),
        }
        .serialize(serializer)
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
        let shown = up.redacted().to_json();
        assert!(shown.contains(r#""authorization":"Basic ***""#));
        assert!(!shown.contains(&up.authorization.expose()[6..]));
        assert!(shown.contains(r#""content-type":"application/json""#));
        assert!(!format!("{up:?}").contains("a2V5"));
        let v: serde_json::Value = serde_json::from_str(&up.sendable().to_json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "method": "POST",
                "url": up.url,
                "headers": {"authorization": up.authorization.expose(), "content-type": "application/json"},
                "body": "{\"test_connection\":true}"
            })
        );
    }
}
