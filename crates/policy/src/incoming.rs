//! The incoming policy chain, in the style of Akkoma's MRF: what this
//! instance does with a remote post, decided from plain facts the server
//! gathers (the author's domain, tier and age here, where the post sits,
//! its words, hashtags, mentions and media). Every rule that fires leaves
//! a reason code, which admins see beside the post's fate.
//!
//! A rule acts on the posts its scope covers (tiers and contexts; empty
//! means all). Rules never rank: each that matches adds its effect, and a
//! rejection wins over everything else.

use crate::Tier;

/// Where a remote post sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    /// A post that starts a thread and mentions none of ours.
    Post,
    /// A reply in a thread.
    Reply,
    /// A post (not direct) that mentions one of this instance's faces.
    Mention,
    /// A direct message.
    Direct,
}

impl Context {
    pub const ALL: [Context; 4] = [
        Context::Post,
        Context::Reply,
        Context::Mention,
        Context::Direct,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Context::Post => "post",
            Context::Reply => "reply",
            Context::Mention => "mention",
            Context::Direct => "direct",
        }
    }

    pub fn parse(s: &str) -> Option<Context> {
        Context::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// What a rule does to a post it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Not stored at all.
    Reject,
    /// Stored without its media.
    StripMedia,
    /// Stored behind a content warning (`sensitive`).
    MarkSensitive,
    /// Stored, but kept off the public and hashtag timelines (public
    /// becomes unlisted).
    Delist,
    /// The matched words replaced by this text (keyword rules only).
    Replace(String),
    /// Kept aside, seen by no one, until a moderator releases it (stored
    /// then, as if it had just arrived) or rejects it (dropped).
    Hold,
}

impl Action {
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Reject => "reject",
            Action::StripMedia => "strip_media",
            Action::MarkSensitive => "sensitive",
            Action::Delist => "delist",
            Action::Replace(_) => "replace",
            Action::Hold => "hold",
        }
    }
}

/// What a rule looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    /// Posts by faces on this domain or under it (lower case, punycode).
    Domain(String),
    /// Posts whose text or content warning holds this, ignoring case.
    Keyword(String),
    /// Posts tagged with this hashtag (without `#`, any case).
    Hashtag(String),
    /// Posts mentioning more than this many faces.
    MentionsOver(usize),
    /// Posts by faces younger than this many days.
    AccountYoungerThan(i64),
}

impl Matcher {
    pub fn kind(&self) -> &'static str {
        match self {
            Matcher::Domain(_) => "domain",
            Matcher::Keyword(_) => "keyword",
            Matcher::Hashtag(_) => "hashtag",
            Matcher::MentionsOver(_) => "mention_limit",
            Matcher::AccountYoungerThan(_) => "new_account",
        }
    }
}

/// One rule of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub matcher: Matcher,
    pub action: Action,
    /// The tiers it covers; empty: all.
    pub tiers: Vec<Tier>,
    /// The contexts it covers; empty: all.
    pub contexts: Vec<Context>,
}

/// Why a rule cannot be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    /// Only keyword rules replace text.
    ReplaceNeedsKeyword,
    /// A domain, keyword or hashtag must not be empty.
    EmptyPattern,
    /// A limit or an age must be positive.
    NotPositive,
}

impl RuleError {
    pub fn message(self) -> &'static str {
        match self {
            RuleError::ReplaceNeedsKeyword => "only keyword rules replace text",
            RuleError::EmptyPattern => "the domain, keyword or hashtag is empty",
            RuleError::NotPositive => "the limit or age must be above zero",
        }
    }
}

impl Rule {
    /// A rule, checked.
    pub fn new(
        matcher: Matcher,
        action: Action,
        tiers: Vec<Tier>,
        contexts: Vec<Context>,
    ) -> Result<Rule, RuleError> {
        if matches!(action, Action::Replace(_)) && !matches!(matcher, Matcher::Keyword(_)) {
            return Err(RuleError::ReplaceNeedsKeyword);
        }
        match &matcher {
            Matcher::Domain(p) | Matcher::Keyword(p) | Matcher::Hashtag(p)
                if p.trim().is_empty() =>
            {
                return Err(RuleError::EmptyPattern)
            }
            Matcher::AccountYoungerThan(d) if *d <= 0 => return Err(RuleError::NotPositive),
            _ => {}
        }
        Ok(Rule {
            matcher,
            action,
            tiers,
            contexts,
        })
    }

    /// The reason code this rule leaves when it fires: `{kind}_{action}`.
    pub fn code(&self) -> String {
        format!("{}_{}", self.matcher.kind(), self.action.as_str())
    }

    fn covers(&self, f: &Facts) -> bool {
        (self.tiers.is_empty() || self.tiers.contains(&f.tier))
            && (self.contexts.is_empty() || self.contexts.contains(&f.context))
    }

    fn matches(&self, f: &Facts) -> bool {
        match &self.matcher {
            Matcher::Domain(d) => {
                let d = d.trim_end_matches('.').to_lowercase();
                let host = f.domain.trim_end_matches('.').to_lowercase();
                host == d
                    || host
                        .strip_suffix(d.as_str())
                        .is_some_and(|rest| rest.ends_with('.'))
            }
            Matcher::Keyword(k) => {
                let k = k.to_lowercase();
                f.text.to_lowercase().contains(&k) || f.summary.to_lowercase().contains(&k)
            }
            Matcher::Hashtag(t) => {
                let t = t.trim_start_matches('#').to_lowercase();
                f.hashtags.iter().any(|h| h.to_lowercase() == t)
            }
            Matcher::MentionsOver(n) => f.mentions > *n,
            Matcher::AccountYoungerThan(days) => f.author_age_days < *days,
        }
    }
}

/// What the server knows of one remote post.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The author's domain.
    pub domain: &'a str,
    pub tier: Tier,
    pub context: Context,
    /// The post's plain text and content warning.
    pub text: &'a str,
    pub summary: &'a str,
    pub hashtags: &'a [String],
    /// How many faces it mentions (anywhere).
    pub mentions: usize,
    pub has_media: bool,
    /// Days since the author's account was made (as its server says, else
    /// since this instance first saw it).
    pub author_age_days: i64,
}

/// The chain's verdict on one post: each effect with the code of the first
/// rule that asked for it, and every code that fired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    pub reject: Option<String>,
    pub strip_media: Option<String>,
    pub sensitive: Option<String>,
    pub delist: Option<String>,
    /// Held for a moderator (unless rejected: a rejection wins).
    pub hold: Option<String>,
    /// (words, replacement), in rule order.
    pub replace: Vec<(String, String)>,
    pub codes: Vec<String>,
}

/// What becomes of a post, all effects weighed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Stored (with the verdict's other effects).
    Store,
    /// Kept aside for a moderator.
    Hold,
    /// Not stored.
    Reject,
}

impl Verdict {
    /// Whether any rule fired.
    pub fn touched(&self) -> bool {
        !self.codes.is_empty()
    }

    /// A rejection wins over a hold, a hold over storing.
    pub fn fate(&self) -> Fate {
        if self.reject.is_some() {
            Fate::Reject
        } else if self.hold.is_some() {
            Fate::Hold
        } else {
            Fate::Store
        }
    }
}

/// Runs the chain over one post.
pub fn decide(rules: &[Rule], f: &Facts) -> Verdict {
    let mut v = Verdict::default();
    for r in rules.iter().filter(|r| r.covers(f) && r.matches(f)) {
        let code = r.code();
        let slot = match &r.action {
            Action::Reject => &mut v.reject,
            Action::StripMedia if f.has_media => &mut v.strip_media,
            // Nothing to strip: the rule does not fire.
            Action::StripMedia => continue,
            Action::MarkSensitive => &mut v.sensitive,
            Action::Delist => &mut v.delist,
            Action::Hold => &mut v.hold,
            Action::Replace(with) => {
                if let Matcher::Keyword(k) = &r.matcher {
                    v.replace.push((k.clone(), with.clone()));
                }
                if !v.codes.contains(&code) {
                    v.codes.push(code);
                }
                continue;
            }
        };
        slot.get_or_insert_with(|| code.clone());
        if !v.codes.contains(&code) {
            v.codes.push(code);
        }
    }
    v
}

/// `text` with every occurrence of `words` replaced by `with`; ASCII
/// letters match in any case.
pub fn replace_words(text: &str, words: &str, with: &str) -> String {
    if words.is_empty() {
        return text.to_owned();
    }
    let (hay, needle) = (text.as_bytes(), words.as_bytes());
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        let window = hay.get(i..i + needle.len()).unwrap_or_default();
        if window.eq_ignore_ascii_case(needle)
            && text.is_char_boundary(i)
            && text.is_char_boundary(i + needle.len())
        {
            out.push_str(text.get(last..i).unwrap_or_default());
            out.push_str(with);
            i += needle.len();
            last = i;
        } else {
            i += 1;
        }
    }
    out.push_str(text.get(last..).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(tier: Tier, context: Context, hashtags: &'a [String]) -> Facts<'a> {
        Facts {
            domain: "social.example",
            tier,
            context,
            text: "Cheap PILLS here, see https://pills.example",
            summary: "",
            hashtags,
            mentions: 3,
            has_media: true,
            author_age_days: 2,
        }
    }

    fn rule(m: Matcher, a: Action) -> Rule {
        Rule::new(m, a, Vec::new(), Vec::new()).unwrap()
    }

    /// Every rule kind, for every tier and context: what fires, and the
    /// code it leaves.
    #[test]
    fn each_rule_fires_on_what_it_matches_for_every_tier_and_context() {
        let tags = vec!["Spam".to_owned()];
        let table: Vec<(Rule, Option<&str>)> = vec![
            (
                rule(Matcher::Domain("Social.Example.".into()), Action::Reject),
                Some("domain_reject"),
            ),
            (
                rule(Matcher::Domain("example".into()), Action::Delist),
                Some("domain_delist"),
            ),
            (
                rule(Matcher::Domain("cial.example".into()), Action::Reject),
                None,
            ),
            (
                rule(Matcher::Domain("social.example".into()), Action::StripMedia),
                Some("domain_strip_media"),
            ),
            (
                rule(Matcher::Keyword("pills".into()), Action::MarkSensitive),
                Some("keyword_sensitive"),
            ),
            (
                rule(Matcher::Keyword("casino".into()), Action::Reject),
                None,
            ),
            (
                rule(
                    Matcher::Keyword("PILLS".into()),
                    Action::Replace("[removed]".into()),
                ),
                Some("keyword_replace"),
            ),
            (
                rule(Matcher::Hashtag("#spam".into()), Action::Delist),
                Some("hashtag_delist"),
            ),
            (rule(Matcher::Hashtag("ham".into()), Action::Delist), None),
            (
                rule(Matcher::MentionsOver(2), Action::Reject),
                Some("mention_limit_reject"),
            ),
            (rule(Matcher::MentionsOver(3), Action::Reject), None),
            (
                rule(Matcher::AccountYoungerThan(7), Action::Delist),
                Some("new_account_delist"),
            ),
            (rule(Matcher::AccountYoungerThan(2), Action::Delist), None),
            (
                rule(Matcher::AccountYoungerThan(3), Action::Hold),
                Some("new_account_hold"),
            ),
            (rule(Matcher::AccountYoungerThan(1), Action::Hold), None),
            (
                rule(Matcher::Keyword("pills".into()), Action::Hold),
                Some("keyword_hold"),
            ),
            (
                rule(Matcher::Domain("other.example".into()), Action::Hold),
                None,
            ),
        ];
        for tier in Tier::ALL {
            for context in Context::ALL {
                let f = facts(tier, context, &tags);
                for (r, want) in &table {
                    let v = decide(std::slice::from_ref(r), &f);
                    let got = v.codes.first().map(String::as_str);
                    assert_eq!(got, *want, "{r:?} on {tier:?} {context:?}");
                }
            }
        }
    }

    /// A scoped rule acts only on the tiers and contexts it names.
    #[test]
    fn scopes_limit_rules_to_tiers_and_contexts() {
        let tags: Vec<String> = Vec::new();
        let r = Rule::new(
            Matcher::Keyword("pills".into()),
            Action::Reject,
            vec![Tier::Anonymous],
            vec![Context::Reply, Context::Direct],
        )
        .unwrap();
        for tier in Tier::ALL {
            for context in Context::ALL {
                let v = decide(std::slice::from_ref(&r), &facts(tier, context, &tags));
                let want =
                    tier == Tier::Anonymous && matches!(context, Context::Reply | Context::Direct);
                assert_eq!(v.reject.is_some(), want, "{tier:?} {context:?}");
            }
        }
    }

    /// Effects add up; the first rule asking for an effect names it;
    /// media that is not there is not stripped.
    #[test]
    fn effects_add_up_and_keep_every_code() {
        let tags = vec!["spam".to_owned()];
        let rules = vec![
            rule(Matcher::Hashtag("spam".into()), Action::Delist),
            rule(Matcher::Keyword("pills".into()), Action::Delist),
            rule(Matcher::Keyword("pills".into()), Action::MarkSensitive),
            rule(Matcher::Domain("social.example".into()), Action::StripMedia),
        ];
        let f = facts(Tier::Pseudonymous, Context::Post, &tags);
        let v = decide(&rules, &f);
        assert_eq!(v.delist.as_deref(), Some("hashtag_delist"));
        assert_eq!(v.sensitive.as_deref(), Some("keyword_sensitive"));
        assert_eq!(v.strip_media.as_deref(), Some("domain_strip_media"));
        assert_eq!(v.reject, None);
        assert_eq!(
            v.codes,
            [
                "hashtag_delist",
                "keyword_delist",
                "keyword_sensitive",
                "domain_strip_media"
            ]
        );
        let bare = Facts {
            has_media: false,
            ..f
        };
        assert_eq!(decide(&rules, &bare).strip_media, None);
        assert!(!decide(&[], &f).touched());
    }

    /// A hold waits for a moderator, but a rejection wins over it; the
    /// hold still leaves its code.
    #[test]
    fn a_rejection_wins_over_a_hold() {
        let tags: Vec<String> = Vec::new();
        let f = facts(Tier::Anonymous, Context::Reply, &tags);
        let hold = rule(Matcher::AccountYoungerThan(7), Action::Hold);
        let delist = rule(Matcher::Keyword("pills".into()), Action::Delist);
        let reject = rule(Matcher::MentionsOver(1), Action::Reject);
        assert_eq!(decide(&[], &f).fate(), Fate::Store);
        assert_eq!(
            decide(std::slice::from_ref(&delist), &f).fate(),
            Fate::Store
        );
        let held = decide(&[hold.clone(), delist.clone()], &f);
        assert_eq!(held.fate(), Fate::Hold);
        assert_eq!(held.hold.as_deref(), Some("new_account_hold"));
        assert_eq!(held.delist.as_deref(), Some("keyword_delist"));
        let refused = decide(&[hold, reject], &f);
        assert_eq!(refused.fate(), Fate::Reject);
        assert_eq!(refused.codes, ["new_account_hold", "mention_limit_reject"]);
    }

    #[test]
    fn rules_are_checked() {
        assert_eq!(
            Rule::new(
                Matcher::Hashtag("x".into()),
                Action::Replace("y".into()),
                vec![],
                vec![]
            ),
            Err(RuleError::ReplaceNeedsKeyword)
        );
        assert_eq!(
            Rule::new(Matcher::Keyword(" ".into()), Action::Reject, vec![], vec![]),
            Err(RuleError::EmptyPattern)
        );
        assert_eq!(
            Rule::new(
                Matcher::AccountYoungerThan(0),
                Action::Delist,
                vec![],
                vec![]
            ),
            Err(RuleError::NotPositive)
        );
    }

    #[test]
    fn replacing_ignores_ascii_case_and_keeps_the_rest() {
        assert_eq!(
            replace_words("Buy PILLS, pills, pIlLs! Grüße", "pills", "***"),
            "Buy ***, ***, ***! Grüße"
        );
        assert_eq!(replace_words("Grüße aus Grüße", "grüße", "x"), "x aus x");
        assert_eq!(replace_words("Grüße", "Grüße", "x"), "x");
        assert_eq!(replace_words("abc", "", "x"), "abc");
    }
}
