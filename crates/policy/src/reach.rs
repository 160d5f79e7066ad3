//! Who may reach a face anonymously: the face's own setting, decided here
//! from plain facts (the core looks them up). Blocking one per-thread
//! anonymous face stops nothing, so this is the defence against anonymous
//! harassment; it holds for remote anonymous faces too.

use crate::Tier;

/// A face's setting for anonymous replies, mentions and direct messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnonymousReach {
    Everyone,
    /// Only within threads the face started.
    OwnThreads,
    Nobody,
}

impl AnonymousReach {
    pub const ALL: [AnonymousReach; 3] = [
        AnonymousReach::Everyone,
        AnonymousReach::OwnThreads,
        AnonymousReach::Nobody,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AnonymousReach::Everyone => "everyone",
            AnonymousReach::OwnThreads => "own_threads",
            AnonymousReach::Nobody => "nobody",
        }
    }

    pub fn parse(s: &str) -> Option<AnonymousReach> {
        AnonymousReach::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// The facts of one attempt to reach a face.
#[derive(Debug, Clone, Copy)]
pub struct ReachAttempt {
    /// The tier of the face reaching out.
    pub author: Tier,
    /// Whether the face reached and the author are the same face.
    pub to_self: bool,
    /// The reached face's setting.
    pub setting: AnonymousReach,
    /// Whether the reached face started the thread this happens in.
    pub in_own_thread: bool,
}

/// Why an anonymous face may not reach a face.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReachRefusal {
    /// The face takes no anonymous replies, mentions or messages.
    Nobody,
    /// Only within threads the face started.
    OutsideOwnThreads,
}

impl ReachRefusal {
    pub fn code(self) -> &'static str {
        match self {
            ReachRefusal::Nobody => "anonymous_reach_nobody",
            ReachRefusal::OutsideOwnThreads => "anonymous_reach_own_threads",
        }
    }
}

/// Whether the attempt may reach the face. Faces that are not anonymous
/// always may (blocks and mutes govern them).
pub fn may_reach(a: &ReachAttempt) -> Result<(), ReachRefusal> {
    if a.author != Tier::Anonymous || a.to_self {
        return Ok(());
    }
    match a.setting {
        AnonymousReach::Everyone => Ok(()),
        AnonymousReach::OwnThreads if a.in_own_thread => Ok(()),
        AnonymousReach::OwnThreads => Err(ReachRefusal::OutsideOwnThreads),
        AnonymousReach::Nobody => Err(ReachRefusal::Nobody),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every tier × setting × thread: who gets through.
    #[test]
    fn the_reach_table() {
        use AnonymousReach::*;
        let ok = Ok(());
        let own = Err(ReachRefusal::OutsideOwnThreads);
        let none = Err(ReachRefusal::Nobody);
        let table = [
            (Tier::Anonymous, Everyone, false, ok),
            (Tier::Anonymous, Everyone, true, ok),
            (Tier::Anonymous, OwnThreads, false, own),
            (Tier::Anonymous, OwnThreads, true, ok),
            (Tier::Anonymous, Nobody, false, none),
            (Tier::Anonymous, Nobody, true, none),
        ];
        for (author, setting, in_own_thread, want) in table {
            let a = ReachAttempt {
                author,
                to_self: false,
                setting,
                in_own_thread,
            };
            assert_eq!(may_reach(&a), want, "{a:?}");
        }
        for author in [Tier::Pseudonymous, Tier::RealName] {
            for setting in AnonymousReach::ALL {
                for in_own_thread in [false, true] {
                    let a = ReachAttempt {
                        author,
                        to_self: false,
                        setting,
                        in_own_thread,
                    };
                    assert_eq!(may_reach(&a), Ok(()), "{a:?}");
                }
            }
        }
        let to_self = ReachAttempt {
            author: Tier::Anonymous,
            to_self: true,
            setting: Nobody,
            in_own_thread: false,
        };
        assert_eq!(may_reach(&to_self), Ok(()));
    }

    #[test]
    fn settings_round_trip() {
        for r in AnonymousReach::ALL {
            assert_eq!(AnonymousReach::parse(r.as_str()), Some(r));
        }
        assert_eq!(AnonymousReach::parse("friends"), None);
    }
}
