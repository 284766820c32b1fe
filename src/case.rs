//! A case: a scenario, the schedule that drives it, and optionally the
//! verdict a regression entry expects.

use std::fmt;

use kernel_sim::Segment;

use crate::scenario::Scenario;

/// A verdict class (DESIGN property 9).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// The outcomes are equal.
    Agree,
    /// The old code refused a migration, with an errno of the allowed table,
    /// where the new code migrated; all else is equal.
    AllowedRefusal,
    /// Only the old code broke an invariant: a bug the patch fixes.
    OldOnly,
    /// Only the new code broke an invariant: a regression.
    NewOnly,
    /// Both broke the same invariants.
    Shared,
    /// The old code could not follow the new run's order, and reaches the
    /// new outcome under another schedule.
    Skew,
    /// The old code does not reach the new outcome, though it could follow
    /// the new run's order, or a confirmation showed it never does.
    Divergence,
    /// The old code could not follow the new run's order, and no search
    /// or confirmation settled whether it reaches the new outcome.
    Undecided,
}

impl Class {
    /// Every class.
    pub const ALL: [Class; 8] = [
        Class::Agree,
        Class::AllowedRefusal,
        Class::OldOnly,
        Class::NewOnly,
        Class::Shared,
        Class::Skew,
        Class::Divergence,
        Class::Undecided,
    ];

    /// The versions a finding of this class is seen in.
    pub fn versions(self) -> &'static [&'static str] {
        match self {
            Class::OldOnly => &["old"],
            Class::NewOnly | Class::Divergence => &["new"],
            Class::Shared => &["old", "new"],
            _ => &[],
        }
    }

    /// The class's name in signatures, `expect:` lines and tables.
    pub fn name(self) -> &'static str {
        match self {
            Class::Agree => "agree",
            Class::AllowedRefusal => "allowed-refusal",
            Class::OldOnly => "old-only",
            Class::NewOnly => "new-only",
            Class::Shared => "shared",
            Class::Skew => "skew",
            Class::Divergence => "divergence",
            Class::Undecided => "undecided",
        }
    }

    /// Looks a class up by name.
    pub fn from_name(s: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.name() == s)
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a regression entry expects: a class, and optionally the exact
/// signature detail after `class:`.
#[derive(Clone, PartialEq, Eq, Debug, Hash)]
pub struct Expect {
    /// The verdict class.
    pub class: Class,
    /// The signature's detail, if the entry pins it.
    pub detail: Option<String>,
}

impl Expect {
    /// The expectation that pins a verdict: its class and its signature's
    /// detail.
    pub fn pinning(class: Class, signature: &str) -> Expect {
        Expect {
            class,
            detail: signature.split_once(':').map(|(_, d)| d.to_string()),
        }
    }

    /// Whether a verdict with this signature meets the expectation.
    pub fn matches(&self, class: Class, signature: &str) -> bool {
        match &self.detail {
            None => class == self.class,
            Some(d) => class == self.class && signature == format!("{}:{d}", self.class),
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.class)?;
        if let Some(d) = &self.detail {
            write!(f, " {d}")?;
        }
        Ok(())
    }
}

/// A scenario with its schedule.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Case {
    /// What runs.
    pub scenario: Scenario,
    /// How it interleaves: segments, then the default policy.
    pub schedule: Vec<Segment>,
    /// The verdict a regression entry expects.
    pub expect: Option<Expect>,
}
