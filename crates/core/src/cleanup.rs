//! When the ledger object's clean-up alarm rings.
//!
//! A Durable Object has one alarm, delivered at least once and retried a few times
//! when its handler throws, then dropped
//! (<https://developers.cloudflare.com/durable-objects/api/alarms/>). The object
//! therefore asks, after every write and at the end of every clean-up, whether the
//! alarm should move: a clean-up whose alarm was lost resumes with the next write, and
//! no write ever puts it later. One alarm serves every clean-up the object has (the
//! ledger's records, the history's retention and cap); a later one (held starts'
//! retries, [`crate::hold`]) adds its due time to [`Due`].

/// What the clean-up is due for, as the object's storage says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Due {
    pub now_ms: u64,
    /// The earliest expiry among the ledger's records.
    pub earliest_record_expiry: Option<u64>,
    /// The earliest end among the ended history entries.
    pub oldest_end: Option<u64>,
    /// How long an ended entry is kept; `None`: not deleted for its age.
    pub retention_ms: Option<u64>,
    /// The entries stored, and the most kept.
    pub entries: u64,
    pub max_entries: u64,
    /// The earliest due time among the held starts (a next try, or the moment a try
    /// under way must have written its outcome by).
    pub earliest_held: Option<u64>,
}

/// When the clean-up is next due: the earliest record expiry, the moment the oldest
/// ended entry has been kept longer than the retention (strictly longer: it is
/// deleted once it ended *more* than the retention ago), and now when there are more
/// entries than the cap. `None`: nothing to clean up.
pub fn due(d: Due) -> Option<u64> {
    let history_expiry = match (d.oldest_end, d.retention_ms) {
        (Some(end), Some(keep)) => Some(end.saturating_add(keep).saturating_add(1)),
        _ => None,
    };
    let over_cap = (d.entries > d.max_entries).then_some(d.now_ms);
    [
        d.earliest_record_expiry,
        history_expiry,
        over_cap,
        d.earliest_held,
    ]
    .into_iter()
    .flatten()
    .min()
}

/// The alarm time to set, given the one set now (`current`, unix ms) and the earliest
/// expiry among the stored records; `None` leaves the alarm as it is.
pub fn alarm_to_set(current: Option<u64>, earliest_expiry: Option<u64>) -> Option<u64> {
    let due = earliest_expiry?;
    match current {
        Some(set) if set <= due => None,
        _ => Some(due),
    }
}

#[cfg(test)]
mod tests {
    use super::{alarm_to_set, due, Due};

    const DAY: u64 = 86_400_000;

    #[test]
    fn the_clean_up_is_due_at_the_earliest_of_its_reasons() {
        let base = Due {
            now_ms: 1_000,
            max_entries: 10,
            retention_ms: Some(30 * DAY),
            ..Due::default()
        };
        assert_eq!(due(base), None);
        let records = Due {
            earliest_record_expiry: Some(5_000),
            ..base
        };
        assert_eq!(due(records), Some(5_000));
        let history = Due {
            oldest_end: Some(2_000),
            ..records
        };
        assert_eq!(due(history), Some(5_000));
        let old = Due {
            oldest_end: Some(0),
            earliest_record_expiry: Some(40 * DAY),
            ..base
        };
        assert_eq!(due(old), Some(30 * DAY + 1));
        // More entries than the cap: now, whatever else.
        assert_eq!(due(Due { entries: 11, ..old }), Some(1_000));
        assert_eq!(due(Due { entries: 10, ..old }), Some(30 * DAY + 1));
        // A held start's next try, when it is the earliest.
        assert_eq!(
            due(Due {
                earliest_held: Some(2_000),
                ..old
            }),
            Some(2_000)
        );
        // A malformed retention deletes nothing for its age.
        assert_eq!(
            due(Due {
                retention_ms: None,
                ..old
            }),
            Some(40 * DAY)
        );
    }

    #[test]
    fn nothing_stored_sets_nothing() {
        assert_eq!(alarm_to_set(None, None), None);
        assert_eq!(alarm_to_set(Some(5), None), None);
    }

    #[test]
    fn a_lost_alarm_is_set_again_at_the_earliest_expiry() {
        assert_eq!(alarm_to_set(None, Some(1_000)), Some(1_000));
    }

    #[test]
    fn an_alarm_only_ever_moves_earlier() {
        assert_eq!(alarm_to_set(Some(2_000), Some(1_000)), Some(1_000));
        assert_eq!(alarm_to_set(Some(1_000), Some(1_000)), None);
        assert_eq!(alarm_to_set(Some(500), Some(1_000)), None);
    }
}
