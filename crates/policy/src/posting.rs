//! May this face post this status here? One decision, one reason code.

use crate::{Tier, Visibility};

/// The instance's posting rules, built from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostingRules {
    pub max_characters: usize,
    pub tiers_enabled: Vec<Tier>,
    /// Real-name faces may post only once an admin verified them.
    pub real_name_requires_verification: bool,
    /// Anonymous posts may start threads (false: they may only reply).
    pub anonymous_top_level: bool,
    /// The shared announcer boosts a public anonymous thread only once a
    /// moderator approves it (false: at once).
    pub announcer_needs_approval: bool,
}

impl Default for PostingRules {
    fn default() -> Self {
        PostingRules {
            max_characters: 500,
            tiers_enabled: Tier::ALL.to_vec(),
            real_name_requires_verification: false,
            anonymous_top_level: true,
            announcer_needs_approval: false,
        }
    }
}

/// What the author is trying to do, in plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostAttempt<'a> {
    pub tier: Tier,
    pub verified: bool,
    pub suspended: bool,
    pub visibility: Visibility,
    pub text: &'a str,
    pub spoiler_text: &'a str,
    pub has_media: bool,
    /// Whether it replies to a post.
    pub reply: bool,
}

/// Why a post is refused. `code()` is stable and shown by the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Empty,
    TooLong {
        max: usize,
    },
    TierDisabled,
    NotVerified,
    Suspended,
    /// Anonymous faces have no followers, so followers-only posts cannot reach anyone.
    VisibilityNotForTier,
    /// The instance takes anonymous posts only as replies.
    AnonymousRepliesOnly,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Empty => "status_empty",
            Refusal::TooLong { .. } => "status_too_long",
            Refusal::TierDisabled => "tier_disabled",
            Refusal::NotVerified => "real_name_not_verified",
            Refusal::Suspended => "face_suspended",
            Refusal::VisibilityNotForTier => "visibility_not_for_tier",
            Refusal::AnonymousRepliesOnly => "anonymous_replies_only",
        }
    }

    /// The request field the refusal is about, for 422 messages.
    pub fn field(self) -> &'static str {
        match self {
            Refusal::Empty | Refusal::TooLong { .. } => "status",
            Refusal::TierDisabled | Refusal::NotVerified | Refusal::Suspended => "tier",
            Refusal::VisibilityNotForTier => "visibility",
            Refusal::AnonymousRepliesOnly => "in_reply_to_id",
        }
    }

    pub fn message(self) -> String {
        match self {
            Refusal::Empty => "Validation failed: Text can't be blank".into(),
            Refusal::TooLong { max } => {
                format!("Validation failed: Text character limit of {max} exceeded")
            }
            Refusal::TierDisabled => "Validation failed: this tier is not offered here".into(),
            Refusal::NotVerified => {
                "Validation failed: real-name posting needs an admin to verify the name first"
                    .into()
            }
            Refusal::Suspended => "This face is suspended".into(),
            Refusal::VisibilityNotForTier => {
                "Validation failed: anonymous posts may be public, unlisted or direct".into()
            }
            Refusal::AnonymousRepliesOnly => {
                "Validation failed: anonymous posts here must reply to a post".into()
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Accept,
    Refuse(Refusal),
}

pub fn check_post(rules: &PostingRules, a: &PostAttempt<'_>) -> Decision {
    use Decision::Refuse;
    if a.suspended {
        return Refuse(Refusal::Suspended);
    }
    if !rules.tiers_enabled.contains(&a.tier) {
        return Refuse(Refusal::TierDisabled);
    }
    if a.tier == Tier::RealName && rules.real_name_requires_verification && !a.verified {
        return Refuse(Refusal::NotVerified);
    }
    if a.tier == Tier::Anonymous && a.visibility == Visibility::Private {
        return Refuse(Refusal::VisibilityNotForTier);
    }
    if a.tier == Tier::Anonymous && !rules.anonymous_top_level && !a.reply {
        return Refuse(Refusal::AnonymousRepliesOnly);
    }
    if a.text.trim().is_empty() && !a.has_media {
        return Refuse(Refusal::Empty);
    }
    // Mastodon counts characters (scalar values), not bytes.
    let len = a.text.chars().count() + a.spoiler_text.chars().count();
    if len > rules.max_characters {
        return Refuse(Refusal::TooLong {
            max: rules.max_characters,
        });
    }
    Decision::Accept
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::*;
    use Refusal::*;
    use Tier::*;
    use Visibility::*;

    fn check(
        rules: &PostingRules,
        tier: Tier,
        verified: bool,
        visibility: Visibility,
        text: &str,
    ) -> Decision {
        check_post(
            rules,
            &PostAttempt {
                tier,
                verified,
                suspended: false,
                visibility,
                text,
                spoiler_text: "",
                has_media: false,
                reply: false,
            },
        )
    }

    #[test]
    fn posting_table() {
        let open = PostingRules::default();
        let strict = PostingRules {
            real_name_requires_verification: true,
            tiers_enabled: vec![RealName, Pseudonymous],
            max_characters: 10,
            anonymous_top_level: true,
            announcer_needs_approval: false,
        };
        let long = "x".repeat(501);
        let cases: &[(&PostingRules, Tier, bool, Visibility, &str, Decision)] = &[
            (&open, Pseudonymous, false, Public, "hello", Accept),
            (&open, Pseudonymous, false, Private, "hello", Accept),
            (&open, RealName, false, Public, "hello", Accept),
            (&open, Anonymous, false, Public, "hello", Accept),
            (&open, Anonymous, false, Unlisted, "hello", Accept),
            (&open, Anonymous, false, Direct, "hello", Accept),
            (
                &open,
                Anonymous,
                false,
                Private,
                "hello",
                Refuse(VisibilityNotForTier),
            ),
            (&open, Pseudonymous, false, Public, "   \n", Refuse(Empty)),
            (&open, Pseudonymous, false, Public, "", Refuse(Empty)),
            (
                &open,
                Pseudonymous,
                false,
                Public,
                &long,
                Refuse(TooLong { max: 500 }),
            ),
            (&open, Pseudonymous, false, Public, &long[..500], Accept),
            (&strict, RealName, false, Public, "hi", Refuse(NotVerified)),
            (&strict, RealName, true, Public, "hi", Accept),
            (
                &strict,
                Anonymous,
                false,
                Public,
                "hi",
                Refuse(TierDisabled),
            ),
            (
                &strict,
                Pseudonymous,
                false,
                Public,
                "ééééééééééé",
                Refuse(TooLong { max: 10 }),
            ),
            (&strict, Pseudonymous, false, Public, "éééééééééé", Accept),
        ];
        for (i, (rules, tier, verified, vis, text, want)) in cases.iter().enumerate() {
            assert_eq!(
                check(rules, *tier, *verified, *vis, text),
                *want,
                "case {i}"
            );
        }
    }

    /// With anonymous posts taken only as replies, an anonymous post must
    /// reply; other tiers post as before.
    #[test]
    fn anonymous_posts_may_be_held_to_replies() {
        let replies_only = PostingRules {
            anonymous_top_level: false,
            ..PostingRules::default()
        };
        for rules in [PostingRules::default(), replies_only.clone()] {
            for tier in Tier::ALL {
                for reply in [false, true] {
                    let d = check_post(
                        &rules,
                        &PostAttempt {
                            tier,
                            verified: true,
                            suspended: false,
                            visibility: Public,
                            text: "hi",
                            spoiler_text: "",
                            has_media: false,
                            reply,
                        },
                    );
                    let refused = tier == Anonymous && !reply && !rules.anonymous_top_level;
                    let want = if refused {
                        Refuse(AnonymousRepliesOnly)
                    } else {
                        Accept
                    };
                    assert_eq!(d, want, "{tier:?} reply={reply} {rules:?}");
                }
            }
        }
        assert_eq!(AnonymousRepliesOnly.code(), "anonymous_replies_only");
    }

    #[test]
    fn suspension_wins_over_everything() {
        let d = check_post(
            &PostingRules::default(),
            &PostAttempt {
                tier: Pseudonymous,
                verified: true,
                suspended: true,
                visibility: Public,
                text: "hi",
                spoiler_text: "",
                has_media: false,
                reply: false,
            },
        );
        assert_eq!(d, Refuse(Suspended));
    }

    #[test]
    fn spoiler_counts_toward_the_limit() {
        let rules = PostingRules {
            max_characters: 5,
            ..PostingRules::default()
        };
        let d = check_post(
            &rules,
            &PostAttempt {
                tier: Pseudonymous,
                verified: false,
                suspended: false,
                visibility: Public,
                text: "abc",
                spoiler_text: "def",
                has_media: false,
                reply: false,
            },
        );
        assert_eq!(d, Refuse(TooLong { max: 5 }));
    }
}
