//! Parsing SCHEDULES and the settings, and planning an event (for a project, a Data
//! hub workspace, or both): never a panic.
#![no_main]
use bloomreach_import_core::schedule::plan_event;
use bloomreach_import_core::{Account, ProjectToken, Schedules, Settings, WorkspaceId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(schedules) = Schedules::parse(&text) {
        let _ = schedules.problems(&["0 3 * * *".to_owned()]);
        let project = ProjectToken::parse("p").ok();
        let workspace = WorkspaceId::parse("w").ok();
        for (project, workspace) in [(project.clone(), None), (None, workspace.clone()), (project, workspace)] {
            let account = Account { project, workspace, base: None };
            let _ = schedules.plan("0 3 * * *", 1_700_000_000_000, &account, None);
        }
    }
    // Settings from lines of NAME=value.
    let pairs: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let lookup = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let _ = Settings::load(&lookup);
    let _ = Settings::caller_tokens(&lookup);
    let _ = plan_event(&lookup, "0 3 * * *", 0);
});
