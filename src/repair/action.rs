//! What a repair did to one recharge or balance, as the SQL repairs
//! (`credits_ops.fix_users`, `retry_recharges`, `apply_recharge`) name it,
//! parsed once, so every command counts changes and reports the same way.

use std::fmt;

use anyhow::{Result, bail};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    // Changes.
    Credited,
    MarkedCompleted,
    BalanceCorrected,
    DuplicateReversed,
    // Reports: nothing was changed.
    DuplicateReported,
    AmountMismatchReported,
    AlreadyCredited,
    NoEvidence,
    ForgeableEvidence,
    NotCreditable,
    NotFound,
    SkippedLocked,
    /// `--verify-with-stripe`: Stripe's answer is not evidence of payment.
    NotPaidInStripe,
}

const ALL: [(Action, &str); 13] = [
    (Action::Credited, "credited"),
    (Action::MarkedCompleted, "marked_completed"),
    (Action::BalanceCorrected, "balance_corrected"),
    (Action::DuplicateReversed, "duplicate_reversed"),
    (Action::DuplicateReported, "duplicate_reported"),
    (Action::AmountMismatchReported, "amount_mismatch_reported"),
    (Action::AlreadyCredited, "already_credited"),
    (Action::NoEvidence, "no_evidence"),
    (Action::ForgeableEvidence, "forgeable_evidence"),
    (Action::NotCreditable, "not_creditable"),
    (Action::NotFound, "not_found"),
    (Action::SkippedLocked, "skipped_locked"),
    (Action::NotPaidInStripe, "not_paid_in_stripe"),
];

impl Action {
    /// The SQL's word for it; an unknown word is a defect between this
    /// binary and its SQL, never guessed at.
    pub fn parse(word: &str) -> Result<Action> {
        match ALL.iter().find(|(_, name)| *name == word) {
            Some((action, _)) => Ok(*action),
            None => bail!("the repair SQL answered an unknown action {word:?}"),
        }
    }

    pub fn as_str(self) -> &'static str {
        ALL.iter()
            .find(|(action, _)| *action == self)
            .map_or("", |(_, name)| name)
    }

    /// Whether it changed the database (or would, in a dry run).
    pub fn is_change(self) -> bool {
        matches!(
            self,
            Action::Credited
                | Action::MarkedCompleted
                | Action::BalanceCorrected
                | Action::DuplicateReversed
        )
    }

    /// A payment an operator must verify in Stripe before it is credited.
    pub fn needs_verification(self) -> bool {
        matches!(self, Action::NoEvidence | Action::ForgeableEvidence)
    }

    /// As shown: a change in a dry run is what would be done.
    pub fn shown(self, dry_run: bool) -> String {
        if dry_run && self.is_change() {
            format!("would be {self}")
        } else {
            self.to_string()
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_round_trips_and_unknown_ones_are_refused() {
        for (action, word) in ALL {
            assert_eq!(Action::parse(word).unwrap(), action);
            assert_eq!(action.as_str(), word);
        }
        assert!(Action::parse("done").is_err());
    }

    #[test]
    fn only_writes_are_changes() {
        let changes: Vec<Action> = ALL
            .iter()
            .map(|(a, _)| *a)
            .filter(|a| a.is_change())
            .collect();
        assert_eq!(
            changes,
            [
                Action::Credited,
                Action::MarkedCompleted,
                Action::BalanceCorrected,
                Action::DuplicateReversed
            ]
        );
        assert!(!Action::NotFound.is_change());
        assert_eq!(Action::Credited.shown(true), "would be credited");
        assert_eq!(Action::NoEvidence.shown(true), "no_evidence");
    }
}
