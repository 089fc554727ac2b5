//! `bloomreach-import-check [--env NAME] [wrangler.toml]`: reports every problem in the
//! cron configuration before it is deployed, using the same core the worker runs.
//! Exit status: 0 when there is none, 1 when there are problems, 2 when the file
//! cannot be read.
#![forbid(unsafe_code)]

use bloomreach_import_core::{Schedules, SettingValue};
use std::process::ExitCode;

/// What the check reads from a wrangler.toml.
struct CronConfig {
    crons: Vec<String>,
    schedules: Option<SettingValue>,
}

/// A `[vars]` value as the worker receives it: text, a number, a boolean, or a table
/// or an array handed over as JSON.
fn setting_value(value: &toml::Value) -> Result<SettingValue, String> {
    Ok(match value {
        toml::Value::String(text) => SettingValue::Text(text.clone()),
        toml::Value::Integer(n) => SettingValue::Number(*n as f64),
        toml::Value::Float(n) => SettingValue::Number(*n),
        toml::Value::Boolean(b) => SettingValue::Bool(*b),
        toml::Value::Datetime(at) => SettingValue::Text(at.to_string()),
        toml::Value::Array(_) | toml::Value::Table(_) => SettingValue::Structured(
            serde_json::to_string(value).map_err(|e| format!("SCHEDULES cannot be read: {e}"))?,
        ),
    })
}

fn read_config(text: &str, env: Option<&str>) -> Result<CronConfig, String> {
    let doc: toml::Table = text.parse().map_err(|e| format!("not valid TOML: {e}"))?;
    let scope = match env {
        None => &doc,
        Some(name) => doc
            .get("env")
            .and_then(|e| e.get(name))
            .and_then(|e| e.as_table())
            .ok_or_else(|| format!("[env.{name}] is not in the file"))?,
    };
    let crons = match scope.get("triggers").and_then(|t| t.get("crons")) {
        None => Vec::new(),
        Some(toml::Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or("[triggers] crons must be strings")
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("[triggers] crons must be a list of strings".into()),
    };
    let schedules = scope
        .get("vars")
        .and_then(|v| v.get("SCHEDULES"))
        .map(setting_value)
        .transpose()?;
    Ok(CronConfig { crons, schedules })
}

/// Every problem, one line each.
fn problems(config: &CronConfig) -> Vec<String> {
    match &config.schedules {
        None if config.crons.is_empty() => Vec::new(),
        None => vec!["[vars] SCHEDULES is not set, but [triggers] crons lists crons".into()],
        Some(value) => match Schedules::from_setting(Some(value.clone())) {
            Err(e) => vec![e.message],
            Ok(schedules) => schedules.problems(&config.crons),
        },
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut env = None;
    let mut path = "wrangler.toml".to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--env" => env = args.next(),
            "-h" | "--help" => {
                println!("usage: bloomreach-import-check [--env NAME] [wrangler.toml]");
                return ExitCode::SUCCESS;
            }
            _ => path = arg,
        }
    }
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: cannot be read: {e}");
            return ExitCode::from(2);
        }
    };
    let config = match read_config(&text, env.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::from(2);
        }
    };
    let found = problems(&config);
    if found.is_empty() {
        println!(
            "{path}: SCHEDULES is fine ({} cron(s): {})",
            config.crons.len(),
            config.crons.join(", ")
        );
        ExitCode::SUCCESS
    } else {
        for p in &found {
            eprintln!("{path}: {p}");
        }
        eprintln!("{} problem(s)", found.len());
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(toml: &str) -> Vec<String> {
        problems(&read_config(toml, None).unwrap())
    }

    #[test]
    fn the_shipped_wrangler_toml_has_no_problem() {
        let text = include_str!("../../../wrangler.toml");
        assert_eq!(check(text), Vec::<String>::new());
    }

    #[test]
    fn keys_not_among_crons_and_crons_without_jobs_are_reported() {
        let found = check(
            r#"
            [vars]
            SCHEDULES = '{"0 3 * * *": [{"import_id": "a"}], "0 9 * * *": [{"import_id": "b", "path": "/x/{nope}"}]}'
            [triggers]
            crons = ["0 3 * * *", "30 1 * * *"]
            "#,
        );
        let text = found.join("\n");
        assert!(
            text.contains(r#"SCHEDULES["0 9 * * *"]: this cron is not among [triggers] crons"#),
            "{text}"
        );
        assert!(
            text.contains(r#"SCHEDULES["0 9 * * *"][0].path: unknown placeholder {nope}"#),
            "{text}"
        );
        assert!(
            text.contains(r#"[triggers] crons: "30 1 * * *" has no jobs in SCHEDULES"#),
            "{text}"
        );
        assert_eq!(found.len(), 3);
    }

    #[test]
    fn data_hub_jobs_are_known_and_other_apis_are_not() {
        let found = check(
            r#"
            [vars]
            SCHEDULES = '{"0 3 * * *": [{"import_id": "a", "api": "data-hub", "path": "s3://b/{date}.csv"}, {"import_id": "b", "api": "data-v2"}]}'
            [triggers]
            crons = ["0 3 * * *"]
            "#,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with(
                r#"SCHEDULES["0 3 * * *"][1].api: must be "data-v1", "imports-v1" or "data-hub""#
            ),
            "{found:?}"
        );
    }

    #[test]
    fn a_cron_listed_twice_is_reported_once_by_key() {
        let found = check(
            r#"
            [vars]
            SCHEDULES = '{"0 3 * * *": [{"import_id": "a"}], "0  3 * * *": [{"import_id": "b"}]}'
            [triggers]
            crons = ["0 3 * * *"]
            "#,
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with(r#"SCHEDULES["0 3 * * *"]: the cron is listed 2 times"#),
            "{found:?}"
        );
    }

    #[test]
    fn a_structured_table_is_read_too() {
        let found = check(
            r#"
            [vars.SCHEDULES]
            "0 3 * * *" = [{ import_id = "a", time_offset = "-1d", path = "/x/{date}" }]
            [triggers]
            crons = ["0 3 * * *"]
            "#,
        );
        assert_eq!(found, Vec::<String>::new());
    }

    #[test]
    fn broken_documents_and_missing_schedules_are_reported() {
        assert_eq!(
            check("[vars]\nSCHEDULES = '{'\n[triggers]\ncrons = []").len(),
            1
        );
        assert_eq!(check("[triggers]\ncrons = [\"0 3 * * *\"]").len(), 1);
        for value in ["5", "true", "[]"] {
            let found = check(&format!(
                "[vars]\nSCHEDULES = {value}\n[triggers]\ncrons = []"
            ));
            assert_eq!(
                found,
                ["SCHEDULES: must be a JSON object mapping cron expressions to lists of jobs"],
                "{value}"
            );
        }
        let found = check(
            "[vars]\nSCHEDULES = '{\"0 3 * * *\": [{\"import_id\": \"a\", \"import_id\": \"b\"}]}'\n[triggers]\ncrons = [\"0 3 * * *\"]",
        );
        assert_eq!(
            found,
            [r#"SCHEDULES["0 3 * * *"][0]: duplicate field `import_id`"#]
        );
        assert!(check("").is_empty());
        assert!(read_config("not toml [", None).is_err());
        assert!(read_config("", Some("staging")).is_err());
    }

    #[test]
    fn crons_are_read_with_cloudflares_parser() {
        let found = check(
            r#"
            [vars]
            SCHEDULES = '{"0 3 * * 0": [{"import_id": "a"}], "0 3 * * 7": [{"import_id": "b"}], "0 0 L * *": [{"import_id": "c"}], "0 0 * * 6#2": [{"import_id": "d"}], "0 0 15W * *": [{"import_id": "e"}]}'
            [triggers]
            crons = ["0 3 * * 0", "0 3 * * 7", "0 0 L * *", "0 0 * * 6#2", "0 0 15W * *"]
            "#,
        );
        // Weekdays are 1-7 (SUN-SAT): 0 is not one.
        assert_eq!(
            found,
            [
                r#"[triggers] crons: "0 3 * * 0" is not a cron expression Cloudflare accepts (five fields in UTC: minute, hour, day of month, month, day of week 1-7 for SUN-SAT; * , - / L W #)"#
            ]
        );
        let found = check("[vars]\nSCHEDULES = '{}'\n[triggers]\ncrons = [\"every day\"]");
        assert_eq!(found.len(), 2, "{found:?}");
    }

    #[test]
    fn an_environment_section_is_checked_when_named() {
        let text = "[env.staging.vars]\nSCHEDULES = '{\"0 3 * * *\": []}'\n[env.staging.triggers]\ncrons = [\"0 3 * * *\"]\n";
        let found = problems(&read_config(text, Some("staging")).unwrap());
        assert_eq!(
            found,
            vec![r#"SCHEDULES["0 3 * * *"]: has no jobs"#.to_owned()]
        );
    }
}
