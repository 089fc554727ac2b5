//! Every error code the core has is documented: in the npm package's TypeScript
//! `ErrorCode` (exactly that set), in docs/behaviour.md's answer table and in the
//! README's, each with its HTTP status.

use bloomreach_import_core::ErrorCode;
use std::collections::BTreeSet;

const TYPES: &str = include_str!("../../../npm/types.d.ts");
const BEHAVIOUR: &str = include_str!("../../../docs/behaviour.md");
const README: &str = include_str!("../../../README.md");

fn core_codes() -> BTreeSet<&'static str> {
    ErrorCode::ALL.iter().map(|c| c.as_str()).collect()
}

#[test]
fn the_typescript_error_codes_are_the_cores() {
    let start = TYPES
        .find("export type ErrorCode =")
        .expect("types.d.ts declares ErrorCode");
    let end = start + TYPES[start..].find(';').expect("the union ends");
    let declared: BTreeSet<&str> = TYPES[start..end].split('"').skip(1).step_by(2).collect();
    assert_eq!(declared, core_codes());
}

#[test]
fn every_code_is_in_the_answer_tables_with_its_status() {
    for (doc, name) in [(BEHAVIOUR, "docs/behaviour.md"), (README, "README.md")] {
        let rows: Vec<&str> = doc
            .lines()
            .filter(|l| l.starts_with("| ") && l.contains(" | `"))
            .collect();
        for code in ErrorCode::ALL {
            let row = format!("| {} | `{}` |", code.http_status(), code.as_str());
            assert!(
                rows.iter().any(|r| r.starts_with(&row)),
                "{name} has no row {row}"
            );
        }
    }
}
