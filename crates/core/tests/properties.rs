//! Property tests: no parser or validator panics on any input (bodies, `SCHEDULES`,
//! options, Bloomreach's answers, settings of any kind, the ledger's calls, records and
//! answers), built URLs decode back to the exact ids, and a request carries a
//! content-type exactly when it has a body.

use bloomreach_import_core::civil_time::{parse_http_date, UtcDateTime};
use bloomreach_import_core::endpoint::{prepare, route};
use bloomreach_import_core::ledger;
use bloomreach_import_core::request_body::parse_body;
use bloomreach_import_core::retry::{decide, parse_retry_after};
use bloomreach_import_core::schedule::plan_event;
use bloomreach_import_core::template::{parse_offset, PathTemplate};
use bloomreach_import_core::*;
use percent_encoding::percent_decode_str;
use proptest::prelude::*;

fn lookup(name: &str) -> Option<String> {
    match name {
        "BLOOMREACH_API_KEY_ID" => Some("key".into()),
        "BLOOMREACH_API_SECRET" => Some("secret".into()),
        "BLOOMREACH_PROJECT_TOKEN" => Some("proj".into()),
        "ALLOWED_PATH_PREFIXES" => Some("https://files.example.com/exports/,/upload".into()),
        _ => None,
    }
}

/// An account with `id` as both project token and workspace id, and its target for `api`.
fn account_of(id: &str, api: ApiKind) -> Target {
    let account = Account {
        project: Some(ProjectToken::parse(id).unwrap()),
        workspace: Some(WorkspaceId::parse(id).unwrap()),
        base: None,
    };
    account
        .target(Some(api), bloomreach_import_core::account::SETTING_NAMES)
        .unwrap()
}

/// Settings of any kind, by name.
struct Values(Vec<(&'static str, SettingValue)>);

impl Lookup for Values {
    fn get(&self, name: &str) -> Option<SettingValue> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }
}

const NAMES: [&str; 12] = [
    API_KEY_ID,
    API_SECRET,
    TRIGGER_TOKENS,
    PROJECT_TOKEN,
    WORKSPACE_ID,
    API_BASE,
    ALLOWED_PATH_PREFIXES,
    SCHEDULES,
    ATTEMPT_TIMEOUT_MS,
    DEADLINE_MS,
    MAX_ATTEMPTS,
    IDEMPOTENCY_TTL_SECONDS,
];

fn setting_value() -> impl Strategy<Value = SettingValue> {
    prop_oneof![
        "\\PC{0,40}".prop_map(SettingValue::Text),
        "[0-9 ]{0,8}".prop_map(SettingValue::Text),
        any::<f64>().prop_map(SettingValue::Number),
        (0u32..1_000_000).prop_map(|n| SettingValue::Number(f64::from(n))),
        any::<bool>().prop_map(SettingValue::Bool),
        "\\PC{0,40}".prop_map(SettingValue::Structured),
    ]
}

/// A JSON value of any shape, a few levels deep.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        "\\PC{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map("[a-z_]{1,10}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn account() -> Account {
    Account {
        project: Some(ProjectToken::parse("p").unwrap()),
        ..Account::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn validators_never_panic(s in "\\PC{0,300}") {
        let _ = ImportId::parse(&s);
        let _ = ProjectToken::parse(&s);
        let _ = PathOverride::parse(&s);
        let _ = ApiKind::parse(&s);
        let _ = BaseUrl::parse(&s);
        let _ = PathPrefixes::parse_as("P", &s);
        let _ = CallerTokens::parse_as("T", &s);
        let _ = parse_offset("o", &s);
        let _ = parse_http_date(&s);
        let _ = parse_retry_after(&s, 1_700_000_000_000);
        let _ = route("POST", &s, true);
        let _ = prepare(&s, Some(&s), s.as_bytes(), &lookup);
        if let Ok(t) = PathTemplate::parse_as("p", &s) {
            let _ = t.render(1_700_000_000);
        }
        let _ = history::redact_path(&s);
        let _ = history::redact_text(&s);
    }

    /// A password in an address never survives redaction, whatever surrounds it.
    #[test]
    fn redaction_never_keeps_a_password(
        scheme in "(https|http|sftp|gs)",
        password in "[a-zA-Z0-9/#?]{1,12}",
        host in "[a-z]{1,8}\\.example",
        before in "\\PC{0,20}",
        after in "[ )][^:]{0,20}",
    ) {
        let secret = format!("Pw{password}");
        let address = format!("{scheme}://user:{secret}@{host}/f.csv");
        prop_assert!(!history::redact_path(&address).contains(&secret));
        let message = format!("{before} {address}{after}");
        prop_assert!(!history::redact_text(&message).contains(&secret), "{}", history::redact_text(&message));
    }

    #[test]
    fn byte_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000), status in 0u16..1000) {
        let _ = parse_body(&bytes);
        let _ = read_answer(status, &bytes);
        let text = String::from_utf8_lossy(&bytes);
        let _ = StartOptions::from_json(&text);
        if let Ok(s) = Schedules::parse(&text) {
            let _ = s.problems(&["0 3 * * *".to_owned()]);
            let _ = s.plan("0 3 * * *", 0, &account(), None);
        }
    }

    #[test]
    fn json_shaped_input_never_panics(
        path in proptest::option::of("\\PC{0,40}"),
        tc in proptest::option::of(any::<bool>()),
        api in proptest::option::of("(data-v1|imports-v1|\\PC{0,5})"),
        extra in proptest::option::of("[a-z_]{1,8}"),
    ) {
        let mut map = serde_json::Map::new();
        if let Some(p) = &path { map.insert("path".into(), p.clone().into()); }
        if let Some(t) = tc { map.insert("test_connection".into(), t.into()); }
        if let Some(a) = &api { map.insert("api".into(), a.clone().into()); }
        if let Some(e) = &extra { map.insert(e.clone(), 1.into()); }
        let body = serde_json::Value::Object(map).to_string();
        let _ = parse_body(body.as_bytes());
        let _ = prepare("imp", None, body.as_bytes(), &lookup);
        let job = format!(r#"{{"0 3 * * *":[{body}]}}"#);
        if let Ok(s) = Schedules::parse(&job) {
            let _ = s.plan("0 3 * * *", 86_400_000, &account(), None);
        }
    }

    #[test]
    fn settings_of_any_kind_never_panic(values in proptest::collection::vec((0usize..12, setting_value()), 0..12)) {
        let lookup = Values(values.into_iter().map(|(i, v)| (NAMES[i], v)).collect());
        let _ = Settings::load(&lookup);
        let _ = Settings::caller_tokens(&lookup);
        let _ = plan_event(&lookup, "0 3 * * *", 0);
        let _ = Schedules::from_setting(lookup.get(SCHEDULES));
    }

    #[test]
    fn ledger_inputs_never_panic(
        stored in proptest::option::of(json_value()),
        call in json_value(),
        text in "\\PC{0,80}",
        now in any::<u64>(),
    ) {
        let stored = stored.map(|v| v.to_string());
        for call in [call.to_string(), text.clone()] {
            let applied = ledger::apply(stored.as_deref(), &call, now);
            let _ = ledger::read_begin(&applied.answer);
            let _ = ledger::record_of(&call);
        }
        let _ = ledger::read_begin(&text);
        let _ = ledger::read_finish(&text);
        let begin = ledger::begin("r", "f", now % 1_000_000, now, None);
        let _ = ledger::apply(stored.as_deref(), &begin, now);
    }

    #[test]
    fn json_of_any_shape_never_panics(value in json_value()) {
        let text = value.to_string();
        let _ = parse_body(text.as_bytes());
        let _ = StartOptions::from_json(&text);
        let _ = read_answer(400, text.as_bytes());
        let job = format!(r#"{{"0 3 * * *":[{text}],"x":{text}}}"#);
        for doc in [&text, &job] {
            if let Ok(s) = Schedules::parse(doc) {
                let _ = s.problems(&["0 3 * * *".to_owned()]);
                let _ = s.plan("0 3 * * *", 0, &account(), None);
            }
        }
    }

    #[test]
    fn a_body_of_the_documented_fields_reads_back_the_same(
        path in proptest::option::of("/[a-z0-9/._-]{0,40}"),
        tc in proptest::option::of(any::<bool>()),
        api in proptest::option::of(0usize..3),
        pretty in any::<bool>(),
    ) {
        let api = api.map(|i| ApiKind::ALL[i]);
        let value = serde_json::json!({"path": path, "test_connection": tc, "api": api.map(ApiKind::as_str)});
        // Only the given fields: `null` is a wrong type.
        let given: serde_json::Map<String, serde_json::Value> = value
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let body = if pretty {
            serde_json::to_string_pretty(&given).unwrap()
        } else {
            serde_json::to_string(&given).unwrap()
        };
        let fields = parse_body(body.as_bytes()).unwrap();
        prop_assert_eq!(fields.path.as_ref().map(PathOverride::as_str), path.as_deref());
        prop_assert_eq!(fields.test_connection, tc);
        prop_assert_eq!(fields.api, api);
    }

    #[test]
    fn decisions_never_panic(a in any::<u32>(), r in any::<bool>(), ra in proptest::option::of(any::<u64>()),
                             e in any::<u64>(), j in any::<f64>(), secs in -1_000_000_000_000i64..1_000_000_000_000i64) {
        let _ = decide(a, r, ra, e, j, &RetryLimits::default());
        let t = UtcDateTime::from_unix(secs);
        prop_assert_eq!(t.to_unix(), secs);
    }

    #[test]
    fn built_urls_decode_back_to_the_exact_ids(
        project in "[A-Za-z0-9_-]{1,128}",
        id in "[A-Za-z0-9_-]{1,128}",
        api in 0usize..3,
    ) {
        let api = ApiKind::ALL[api];
        let start = StartRequest {
            target: account_of(&project, api),
            import_id: ImportId::parse(&id).unwrap(),
            path: None,
            test_connection: None,
        };
        let url = start.url(&BaseUrl::parse("https://h.example:8443/p").unwrap());
        let tail = url.strip_prefix("https://h.example:8443/p/").unwrap();
        let segments: Vec<String> = tail.split('/').map(|s| percent_decode_str(s).decode_utf8().unwrap().into_owned()).collect();
        match api {
            ApiKind::ImportsV1 => {
                prop_assert_eq!(&segments[..2], &["imports".to_owned(), "v1".to_owned()]);
                prop_assert_eq!(&segments[2], &project);
                prop_assert_eq!(&segments[3], &id);
                prop_assert_eq!(&segments[4], "run");
            }
            ApiKind::DataV1 | ApiKind::DataHub => {
                let (version, owner) = if api == ApiKind::DataHub { ("v2", "workspaces") } else { ("v1", "projects") };
                prop_assert_eq!(&segments[..3], &["data".to_owned(), version.to_owned(), owner.to_owned()]);
                prop_assert_eq!(&segments[3], &project);
                prop_assert_eq!(&segments[5], &id);
                prop_assert_eq!(&segments[6], "start");
            }
        }
    }

    #[test]
    fn content_type_exactly_when_there_is_a_body(
        path in proptest::option::of("/[a-z0-9/._-]{0,50}"),
        tc in proptest::option::of(any::<bool>()),
        api in 0usize..3,
    ) {
        let api = ApiKind::ALL[api];
        let imports_v1 = api == ApiKind::ImportsV1;
        let start = StartRequest {
            target: account_of("p", api),
            import_id: ImportId::parse("i").unwrap(),
            path: path.as_deref().map(|p| PathOverride::parse(p).unwrap()),
            test_connection: tc,
        };
        let up = start.build(&BaseUrl::default(), &Credentials::new("k", "k", "s", "s").unwrap());
        let has_ct = up.headers().iter().any(|(n, _)| *n == "content-type");
        prop_assert_eq!(has_ct, up.body.is_some());
        prop_assert_eq!(up.body.is_some(), path.is_some() || tc.is_some());
        if let Some(body) = &up.body {
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            let field = if imports_v1 { "path_to_overwrite" } else { "path" };
            prop_assert_eq!(v.get(field).and_then(|x| x.as_str()), path.as_deref());
            prop_assert_eq!(v.get("test_connection").and_then(|x| x.as_bool()), tc);
        }
    }

    #[test]
    fn templates_render_valid_dates(secs in 0i64..8_000_000_000) {
        let t = PathTemplate::parse_as("p", "{year}-{month}-{day}T{hour}:{minute}|{date}|{timestamp}").unwrap();
        let out = t.render(secs);
        let (head, rest) = out.split_once('|').unwrap();
        let (date, ts) = rest.split_once('|').unwrap();
        prop_assert_eq!(&head[..10], date);
        prop_assert_eq!(ts.parse::<i64>().unwrap(), secs);
    }
}

/// What docs/behaviour.md ("Allowed path prefixes") promises of a non-HTTP path that passes the prefix check.
fn opaque_path_is_under(prefixes: &[&str], path: &str) -> bool {
    let clean = !path.contains(['?', '#', '%', '\\'])
        && !path
            .split('/')
            .skip(if path.contains("://") { 3 } else { 0 })
            .any(|s| s == "." || s == "..");
    clean
        && prefixes.iter().any(|p| {
            let p = p.trim_end_matches('/');
            let path = path.trim_end_matches('/');
            path == p || path.strip_prefix(p).is_some_and(|r| r.starts_with('/'))
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// A non-HTTP path passes only when it equals a prefix or continues it at a `/`,
    /// and holds no `?`, `#`, `%`, `\` or dot segment.
    #[test]
    fn non_http_paths_pass_only_under_a_prefix_at_a_slash(
        tail in "[a-z/?#%.\\\\-]{0,12}",
        which in 0usize..4,
    ) {
        let configured = ["/upload", "gs://bucket/daily", "s3://b/", "sftp://h/in"];
        let prefixes = PathPrefixes::parse_as("P", &configured.join(",")).unwrap();
        let path = format!("{}{tail}", configured[which]);
        prop_assert_eq!(prefixes.allows(&path), opaque_path_is_under(&configured, &path), "{}", path);
    }
}

proptest! {
    /// The history's parsers never panic: `GET /starts`' query (a cursor included),
    /// RFC 3339 instants, redaction, cron expressions and the object's calls.
    #[test]
    fn history_inputs_never_panic(
        text in "\\PC{0,120}",
        query in "((import_id|outcome|cause|caller|since|until|limit|cursor|x)=[A-Za-z0-9_%#.:+-]{0,30}&?){0,5}",
        now in any::<i64>(),
        cron in "[0-9*/,LW#?A-Z -]{0,24}",
    ) {
        use bloomreach_import_core::{civil_time, cron_expr, history, store};
        let _ = history::parse_list_query(Some(&text));
        let _ = history::parse_list_query(Some(&query));
        let _ = civil_time::parse_rfc3339_ms(&text);
        let _ = history::redact_path(&text);
        let _ = history::is_entry_id(&text);
        let _ = history::written_id(&text);
        let _ = history::read_recorded(&text);
        let _ = cron_expr::next_run(&cron, now);
        let _ = cron_expr::next_run(&text, now);
        let _ = cron_expr::is_valid(&text);
        let _ = store::list_sql(&history::parse_list_query(None).unwrap());
    }

    /// Redaction never leaves user info in a `scheme://` path, nor a query in an
    /// `http(s)` one, and leaves other paths as they were.
    #[test]
    fn redacted_paths_hold_no_user_info_or_web_query(
        scheme in "(https|http|HTTPS|sftp|s3|gs)",
        user in proptest::option::of("[a-z0-9:%!$]{1,12}"),
        host in "[a-z0-9.-]{1,12}(:[0-9]{1,5})?",
        path in "(/[a-z0-9@._-]{0,10}){0,3}",
        query in proptest::option::of("[a-z0-9=&@:/]{0,16}"),
    ) {
        let mut url = format!("{scheme}://");
        if let Some(u) = &user { url.push_str(u); url.push('@'); }
        url.push_str(&host);
        url.push_str(&path);
        if let Some(q) = &query { url.push('?'); url.push_str(q); }
        let kept = bloomreach_import_core::history::redact_path(&url);
        let web = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
        if let Some(u) = &user {
            let authority = kept[scheme.len() + 3..].split(['/', '?']).next().unwrap_or("");
            let _ = u;
            prop_assert_eq!(authority, format!("***@{host}"), "{} -> {}", url, kept);
        }
        if web {
            if let Some(q) = &query {
                prop_assert!(kept.ends_with("?***"), "{} -> {}", url, kept);
                prop_assert!(q.is_empty() || !kept.ends_with(q.as_str()) || q == "***");
            }
        }
        if user.is_none() && (!web || query.is_none()) {
            prop_assert_eq!(&kept, &url);
        }
        prop_assert_eq!(bloomreach_import_core::history::redact_path(&kept), kept.clone());
    }

    /// Any millisecond of years 0..=9999 is written and read back exactly.
    #[test]
    fn rfc3339_round_trips(ms in -62_167_219_200_000i64..=253_402_300_799_999) {
        use bloomreach_import_core::civil_time::{parse_rfc3339_ms, rfc3339_ms};
        prop_assert_eq!(parse_rfc3339_ms(&rfc3339_ms(ms)), Some(ms));
    }

    /// A cron's next run is after the given time, fires on it (the minute is a
    /// multiple of the step), and is the first such minute.
    #[test]
    fn next_runs_are_after_now_and_the_first(now in 0i64..253_000_000_000_000, step in 1u32..30) {
        use bloomreach_import_core::cron_expr::next_run;
        let expression = format!("*/{step} * * * *");
        let next = next_run(&expression, now).expect("fires every hour");
        prop_assert!(next > now);
        prop_assert_eq!(next % 60_000, 0);
        let minute = (next / 60_000) % 60;
        prop_assert_eq!(minute % i64::from(step), 0);
        let mut t = (now / 60_000 + 1) * 60_000;
        while t < next {
            prop_assert!((t / 60_000 % 60) % i64::from(step) != 0, "{} skipped", t);
            t += 60_000;
        }
    }

    /// Named and unnamed entries of TRIGGER_TOKENS: each token authenticates as its
    /// caller, and a malformed setting never shows an entry's text.
    #[test]
    fn caller_tokens_name_their_callers(
        names in proptest::collection::vec(proptest::option::of("[A-Za-z0-9_.-]{1,64}"), 1..5),
        tokens in proptest::collection::vec("[A-Za-z0-9]{16,24}", 5),
    ) {
        let entries: Vec<String> = names
            .iter()
            .zip(&tokens)
            .map(|(n, t)| match n { Some(n) => format!("{n}:{t}"), None => t.clone() })
            .collect();
        let setting = entries.join(",");
        let mut unique = names.iter().flatten().collect::<Vec<_>>();
        unique.sort();
        let repeated = unique.windows(2).any(|w| w[0] == w[1]);
        match CallerTokens::parse_as("TRIGGER_TOKENS", &setting) {
            Ok(parsed) => {
                prop_assert!(!repeated);
                for (i, (n, t)) in names.iter().zip(&tokens).enumerate() {
                    let caller = parsed.check(Some(&format!("Bearer {t}")));
                    // An earlier equal token wins; the tokens here are random enough.
                    if tokens[..i].contains(t) { continue; }
                    let expected = n.clone().unwrap_or_else(|| format!("token#{}", i + 1));
                    prop_assert_eq!(caller.ok(), Some(expected.as_str()));
                }
            }
            Err(e) => {
                prop_assert!(repeated, "{}", e.message);
                for t in &tokens { prop_assert!(!e.message.contains(t.as_str())); }
            }
        }
    }
}
