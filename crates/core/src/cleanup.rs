//! When the ledger object's clean-up alarm rings.
//!
//! A Durable Object has one alarm, delivered at least once and retried a few times
//! when its handler throws, then dropped. The object therefore asks, after every write
//! and at the end of every clean-up, whether the alarm should move: a clean-up whose
//! alarm was lost resumes with the next write, and no write ever puts it later.

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
    use super::alarm_to_set;

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
